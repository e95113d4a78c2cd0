package ipvs

import "sync"

// The fake kernel's persistence engines, kept beside its services (the
// library's Service has no field for them): FakeKernel -> key -> name.
var fakePEs sync.Map

func (f *FakeKernel) pes() *sync.Map {
	m, _ := fakePEs.LoadOrStore(f, &sync.Map{})
	return m.(*sync.Map)
}

// applyPE writes the service as Apply would, then records its engine
// ("" removes it, as an update without IPVS_SVC_ATTR_PE_NAME does in the
// kernel).
func (f *FakeKernel) applyPE(op Op) (bool, error) {
	svc := toLib(op.Service)
	var err error
	if op.Kind == CreateService {
		err = f.CreateService(svc)
	} else {
		err = f.UpdateService(svc)
	}
	if err != nil && !converged(op.Kind, err) {
		return true, err
	}
	if err == nil {
		f.pes().Store(op.Service.ServiceKey, op.Service.PEName)
	}
	return true, nil
}

func (f *FakeKernel) servicePE(k ServiceKey) string {
	v, _ := f.pes().Load(k)
	s, _ := v.(string)
	return s
}
