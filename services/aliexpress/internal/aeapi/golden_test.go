package aeapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
)

// decoders are the response decoders, by the testdata file name's prefix.
var decoders = []struct {
	prefix string
	decode func([]byte) (any, error)
}{
	{"order_create", func(b []byte) (any, error) { return aeapi.ParseCreateOrder(b) }},
	{"order_get", func(b []byte) (any, error) { return aeapi.ParseOrder(b) }},
	{"tracking_get", func(b []byte) (any, error) { return aeapi.ParseTracking(b) }},
	{"token_create", func(b []byte) (any, error) { return aeapi.ParseToken(aeapi.PathTokenCreate, b) }},
	{"token_", func(b []byte) (any, error) { return aeapi.ParseToken(aeapi.PathTokenRefresh, b) }},
	{"error_response", func(b []byte) (any, error) { return aeapi.ParseError(b) }},
}

// decoderFor is the decoder of a testdata file.
func decoderFor(t testing.TB, file string) func([]byte) (any, error) {
	for _, d := range decoders {
		if strings.HasPrefix(file, d.prefix) {
			return d.decode
		}
	}
	t.Fatalf("no decoder for testdata/%s", file)
	return nil
}

// responses are the testdata response bodies (not the golden files).
func responses(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// TestDecodeGolden: every response body in testdata, written from the
// documented shapes of each method the connector calls (ds.order.create,
// trade.ds.order.get, ds.order.tracking.get, token create and refresh,
// error_response and the /rest error), decodes to its golden file:
// the result, or {"error": ...} when the decoder refuses it.
func TestDecodeGolden(t *testing.T) {
	files := responses(t)
	if len(files) < 20 {
		t.Fatalf("only %d testdata bodies", len(files))
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decoderFor(t, file)(body)
			if err != nil {
				got = map[string]string{"error": err.Error()}
			}
			golden(t, strings.TrimSuffix(file, ".json")+".golden.json", got)
		})
	}
}
