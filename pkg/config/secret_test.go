package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/dropsync/dropsync/pkg/config"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "shpat_0123456789abcdef"
	s := config.NewSecret(value)
	if s.Reveal() != value || s.Empty() {
		t.Fatalf("Reveal() = %q, Empty() = %v", s.Reveal(), s.Empty())
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("store", "token", s, "wrapped", struct{ Token config.Secret }{s})
	js, err := json.Marshal(struct{ Token config.Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"%#v": fmt.Sprintf("%#v", s), "%+v in a struct": fmt.Sprintf("%+v", struct{ T config.Secret }{s}),
		"slog": logged.String(), "json": string(js),
	} {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
			t.Errorf("%s shows the secret: %s", name, out)
		}
		if !strings.Contains(out, config.Redacted) {
			t.Errorf("%s = %s; want %s", name, out, config.Redacted)
		}
	}
	if got := fmt.Sprint(config.Secret{}); got != "" {
		t.Errorf("empty secret prints %q", got)
	}
}

func TestSecretFromEnvironment(t *testing.T) {
	t.Setenv("SECRETTEST_TOKEN", "abc")
	var c struct {
		Token config.Secret `envconfig:"TOKEN"`
	}
	if err := envconfig.Process("SECRETTEST", &c); err != nil {
		t.Fatal(err)
	}
	if c.Token.Reveal() != "abc" {
		t.Fatalf("Token = %q", c.Token.Reveal())
	}
}
