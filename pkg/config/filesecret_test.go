package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
)

// TestFileSecretFollowsItsFile: a Secret read from a file takes the file's
// new content once it is replaced (a Kubernetes Secret updated), keeps the
// last value while the file cannot be read, and still prints REDACTED.
func TestFileSecretFollowsItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access_token")
	write := func(v string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("old-token\n", t0)
	s := config.NewFileSecret(path, "old-token")
	copied := s // copies follow the file too
	if got := s.Reveal(); got != "old-token" {
		t.Fatalf("Reveal = %q, want old-token", got)
	}
	write(" new-token \n", t0.Add(time.Minute))
	deadline := time.Now().Add(5 * config.FileSecretCheck)
	for copied.Reveal() != "new-token" {
		if time.Now().After(deadline) {
			t.Fatalf("Reveal = %q after the file was replaced, want new-token", copied.Reveal())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(config.FileSecretCheck + 50*time.Millisecond)
	if got := s.Reveal(); got != "new-token" {
		t.Errorf("Reveal = %q with the file gone, want the last value new-token", got)
	}
	if got := s.String(); got != config.Redacted {
		t.Errorf("String = %q, want %s", got, config.Redacted)
	}
}
