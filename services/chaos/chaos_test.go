package main

import (
	"os"
	"testing"

	"github.com/dropsync/dropsync/services/chaos/internal/harness"
)

// TestChaosShort runs the short chaos plan: the CI gate of issue 8. It
// builds and starts separate processes for about two minutes, so
// `go test -short` skips it (the quick local loop); `make test` and CI run
// it.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the chaos run takes about two minutes of separate processes")
	}
	root, err := harness.WorkspaceRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dropsync-chaos-short-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := harness.Run(t.Context(), harness.Short, harness.Options{Root: root, Dir: dir, Out: testWriter{t}})
	if err != nil {
		t.Fatalf("%v (logs in %s)", err, dir)
	}
	r.Print(testWriter{t})
	if n := r.Violations(); n > 0 {
		t.Fatalf("%d violations (logs in %s)", n, dir)
	}
	_ = os.RemoveAll(dir)
}

// testWriter sends the harness's lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
