package domain_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dropsync/dropsync/services/wix/internal/domain"
)

// FuzzDecodeMessage feeds the webhook decoder arbitrary verified claims,
// seeded with every testdata payload encoded as Wix encodes it: it must
// never panic, and any message it returns must map or be refused cleanly.
func FuzzDecodeMessage(f *testing.F) {
	files, _ := filepath.Glob("../ports/testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var fx struct {
			EventType  string          `json:"eventType"`
			InstanceID string          `json:"instanceId"`
			Data       json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &fx) != nil {
			continue
		}
		outer, _ := json.Marshal(map[string]string{"eventType": fx.EventType, "instanceId": fx.InstanceID, "data": string(fx.Data)})
		claims, _ := json.Marshal(map[string]any{"data": string(outer), "exp": 1})
		f.Add(claims)
	}
	f.Add([]byte(`{"data":{"eventType":"OrderPaid"}}`))
	st := domain.Store{Slug: "berlin", SiteID: "s", InstanceID: "i"}
	f.Fuzz(func(t *testing.T, claims []byte) {
		m, err := domain.DecodeMessage(claims)
		if err != nil {
			return
		}
		_, _ = st.Events(m)
	})
}
