package stack_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/services/devstack/internal/demo"
)

// otlpReceiver is an OTLP/HTTP collector: it decodes what it is sent and
// keeps, per signal, the service.name of every resource that sent data.
type otlpReceiver struct {
	mu       sync.Mutex
	services map[string]map[string]int // signal -> service.name -> requests
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, *httptest.Server) {
	r := &otlpReceiver{services: map[string]map[string]int{"traces": {}, "metrics": {}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var m coltracepb.ExportTraceServiceRequest
		if !decodeOTLP(t, w, req, &m) {
			return
		}
		for _, rs := range m.GetResourceSpans() {
			if len(rs.GetScopeSpans()) > 0 {
				r.add("traces", rs.GetResource())
			}
		}
		writeOTLP(w, &coltracepb.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var m colmetricpb.ExportMetricsServiceRequest
		if !decodeOTLP(t, w, req, &m) {
			return
		}
		for _, rm := range m.GetResourceMetrics() {
			if len(rm.GetScopeMetrics()) > 0 {
				r.add("metrics", rm.GetResource())
			}
		}
		writeOTLP(w, &colmetricpb.ExportMetricsServiceResponse{})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return r, srv
}

func decodeOTLP(t *testing.T, w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	body, err := io.ReadAll(req.Body)
	if err == nil {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		t.Errorf("OTLP %s: %v", req.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeOTLP(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func (r *otlpReceiver) add(signal string, res *resourcepb.Resource) {
	name := ""
	for _, kv := range res.GetAttributes() {
		if kv.GetKey() == "service.name" {
			name = kv.GetValue().GetStringValue()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services[signal][name]++
}

func (r *otlpReceiver) names(signal string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.services[signal] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestMakeRunExportsOTLP runs the stack as `make run` does, configured by
// nothing but the OTEL_* variables, pointing at an in-process OTLP/HTTP
// receiver: traces and metrics both arrive, each service under its own
// service.name, though they share one process and one OTEL_SERVICE_NAME.
func TestMakeRunExportsOTLP(t *testing.T) {
	recv, srv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "dropsync-devstack")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")

	s := startSystem(t, 0)
	id, _ := s.order("shopify", true, demo.ShopifyMug)
	s.placed(id)
	s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
	s.stop() // flushes every service's providers

	want := map[string][]string{
		"traces":  {"aliexpress", "orders", "shopify"},
		"metrics": {"orders", "shopify"},
	}
	for signal, services := range want {
		got := recv.names(signal)
		t.Logf("%s from %q", signal, got)
		for _, svc := range services {
			if !slices.Contains(got, svc) {
				t.Errorf("%s: nothing from service.name %q; got %q", signal, svc, got)
			}
		}
		if slices.Contains(got, "dropsync-devstack") {
			t.Errorf("%s: a service sent as dropsync-devstack (OTEL_SERVICE_NAME), not its own name; got %q", signal, got)
		}
	}
}
