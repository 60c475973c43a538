package config

// Ops configures a service's ops HTTP listener: liveness, readiness and
// metrics, for the kubelet and Prometheus. Services whose main port is
// HTTP (the store connectors) serve these there instead.
type Ops struct {
	// OpsAddr is the ops listener's address; empty turns it off (tests,
	// several services on one host). The Kubernetes manifests set :9090.
	OpsAddr string `envconfig:"OPS_ADDR" desc:"HTTP listen address of /livez, /readyz and /metrics (Prometheus text format), e.g. 0.0.0.0:9090 as the Kubernetes manifests set it; empty: none"`
}
