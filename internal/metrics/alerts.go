package metrics

import "github.com/prometheus/client_golang/prometheus"

// AlertStats are the e-mail alert sender's counters.
type AlertStats struct {
	Sent, Failed, Dropped, Retries uint64
	Queued                         int
	// FIFODropped counts notify FIFO lines dropped on a full pipe.
	FIFODropped uint64
}

var (
	alertsTotal = prometheus.NewDesc(ns+"_smtp_alerts_total",
		"keepalived-style e-mail alerts: sent, failed (given up after bounded retries) or dropped (the queue was full).", []string{"result"}, nil)
	alertRetries = prometheus.NewDesc(ns+"_smtp_alert_retries_total", "E-mail alert attempts after a failed one.", nil, nil)
	alertQueue   = prometheus.NewDesc(ns+"_smtp_alert_queue", "E-mail alerts waiting to be sent.", nil, nil)
	fifoDropped  = prometheus.NewDesc(ns+"_notify_fifo_dropped_total", "Notify FIFO lines dropped because the pipe was full (nobody reading).", nil, nil)
)

// AlertCollector exports the alert sender's counters, read at scrape time.
type AlertCollector struct{ read func() AlertStats }

func NewAlertCollector(read func() AlertStats) *AlertCollector { return &AlertCollector{read: read} }

func (c *AlertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- alertsTotal
	ch <- alertRetries
	ch <- alertQueue
	ch <- fifoDropped
}

func (c *AlertCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for _, r := range []struct {
		result string
		v      uint64
	}{{"sent", s.Sent}, {"failed", s.Failed}, {"dropped", s.Dropped}} {
		ch <- prometheus.MustNewConstMetric(alertsTotal, prometheus.CounterValue, float64(r.v), r.result)
	}
	ch <- prometheus.MustNewConstMetric(alertRetries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(alertQueue, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(fifoDropped, prometheus.CounterValue, float64(s.FIFODropped))
}
