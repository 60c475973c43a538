package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Redacted is how a Secret prints.
const Redacted = "REDACTED"

// Secret is a credential: an app secret, an access token, a webhook key.
// Its value is read only with Reveal, at the one place that sends it; it
// prints as REDACTED through fmt (every verb), slog, and text or JSON
// encoders, so it never reaches a log. The zero Secret is empty and prints
// as "".
//
// envconfig fills a Secret field from its variable (Decode).
//
// A Secret made with NewFileSecret follows its file: a Kubernetes Secret
// replaced in place is taken without a restart.
type Secret struct {
	v string
	f *fileSecret // nil: v is the value
}

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the credential.
func (s Secret) Reveal() string {
	if s.f != nil {
		return s.f.value()
	}
	return s.v
}

// Empty reports whether no credential is set.
func (s Secret) Empty() bool { return s.Reveal() == "" }

// String hides the value.
func (s Secret) String() string {
	if s.Empty() {
		return ""
	}
	return Redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// Format hides the value from every fmt verb, %x and %q included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoders (JSON logs included).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Decode sets the value from an environment variable (envconfig.Decoder).
func (s *Secret) Decode(value string) error {
	s.v, s.f = value, nil
	return nil
}

// FileSecretCheck is how often a file Secret looks at its file: at most
// once per period, on a Reveal.
const FileSecretCheck = time.Second

// NewFileSecret returns the credential v, read from the file at path
// (spaces trimmed), that follows the file: on a Reveal, at most once per
// FileSecretCheck, the file is looked at, and read again when its
// modification time or size changed (a Kubernetes Secret volume replaces
// the file when the Secret is updated). A file that cannot be read keeps
// the last value.
func NewFileSecret(path, v string) Secret {
	f := &fileSecret{path: path, v: v, checked: time.Now()}
	if fi, err := os.Stat(path); err == nil {
		f.mod, f.size = fi.ModTime(), fi.Size()
	}
	return Secret{v: v, f: f}
}

// fileSecret is the state of a file Secret, shared by its copies.
type fileSecret struct {
	path    string
	mu      sync.Mutex
	v       string
	mod     time.Time
	size    int64
	checked time.Time
}

func (f *fileSecret) value() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= FileSecretCheck {
		f.checked = now
		fi, err := os.Stat(f.path)
		if err == nil && (!fi.ModTime().Equal(f.mod) || fi.Size() != f.size) {
			if b, err := os.ReadFile(f.path); err == nil {
				f.v, f.mod, f.size = strings.TrimSpace(string(b)), fi.ModTime(), fi.Size()
			}
		}
	}
	return f.v
}
