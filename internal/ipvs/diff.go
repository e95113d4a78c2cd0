package ipvs

import "fmt"

// OpKind is one netlink write.
type OpKind uint8

const (
	CreateService OpKind = iota
	UpdateService
	RemoveService
	CreateDest
	UpdateDest
	RemoveDest
)

var opNames = [...]string{"create-service", "update-service", "remove-service", "create-dest", "update-dest", "remove-dest"}

func (k OpKind) String() string { return opNames[k] }

// Op is a single change to the kernel table. Service always carries the
// full desired attributes (or the observed ones for a removal), and Dest the
// full destination: the kernel's update replaces every field, so an update
// built from a zero value would silently turn DR into NAT.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Dest
}

func (o Op) String() string {
	switch o.Kind {
	case CreateDest, UpdateDest, RemoveDest:
		return fmt.Sprintf("%s %s -> %s %s w=%d", o.Kind, o.Service.ServiceKey, o.Dest.DestKey, o.Dest.Method, o.Dest.Weight)
	}
	return fmt.Sprintf("%s %s %s", o.Kind, o.Service.ServiceKey, o.Service.Scheduler)
}

// Ownership says which kernel services the syncer may change or remove.
type Ownership struct {
	// Previous holds services lvsd programmed before (an earlier config,
	// or an earlier run): they are removed when no longer desired.
	Previous map[ServiceKey]bool
	// Flush, like keepalived's lvs_flush, removes every service not desired.
	Flush bool
}

// Diff computes the writes that make observed equal desired for the
// services lvsd owns. Order: new services first (so destinations have a
// home), then updates, then removals, destinations before their service.
func Diff(desired, observed Table, own Ownership) []Op {
	var ops []Op
	for _, k := range desired.SortedKeys() {
		want := desired[k]
		have, ok := observed[k]
		if !ok {
			ops = append(ops, Op{Kind: CreateService, Service: *want})
			for _, d := range want.SortedDests() {
				ops = append(ops, Op{Kind: CreateDest, Service: *want, Dest: d})
			}
			continue
		}
		if !sameAttrs(want, have) {
			ops = append(ops, Op{Kind: UpdateService, Service: *want})
		}
		for _, d := range want.SortedDests() {
			cur, exists := have.Dests[d.DestKey]
			switch {
			case !exists:
				ops = append(ops, Op{Kind: CreateDest, Service: *want, Dest: d})
			case cur != d:
				ops = append(ops, Op{Kind: UpdateDest, Service: *want, Dest: d})
			}
		}
		for _, d := range have.SortedDests() {
			if _, keep := want.Dests[d.DestKey]; !keep {
				ops = append(ops, Op{Kind: RemoveDest, Service: *want, Dest: d})
			}
		}
	}
	for _, k := range observed.SortedKeys() {
		if _, keep := desired[k]; keep {
			continue
		}
		if own.Flush || own.Previous[k] {
			ops = append(ops, Op{Kind: RemoveService, Service: *observed[k]})
		}
	}
	return ops
}
