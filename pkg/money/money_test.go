package money_test

import (
	"fmt"
	"testing"

	"github.com/dropsync/dropsync/pkg/money"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, amount, currency string
		want                   int64
		wantErr                bool
	}{
		{name: "two decimals", amount: "19.90", currency: "USD", want: 1990},
		{name: "one decimal", amount: "12.5", currency: "EUR", want: 1250},
		{name: "whole", amount: "7", currency: "USD", want: 700},
		{name: "trailing zeros past the exponent", amount: "19.900", currency: "USD", want: 1990},
		{name: "zero-decimal currency", amount: "1500", currency: "JPY", want: 1500},
		{name: "zero-decimal currency with .0", amount: "1500.0", currency: "JPY", want: 1500},
		{name: "three-decimal currency", amount: "1.234", currency: "KWD", want: 1234},
		{name: "negative", amount: "-5.05", currency: "USD", want: -505},
		{name: "spaces", amount: " 3.10 ", currency: "USD", want: 310},
		{name: "unknown currency keeps two decimals", amount: "1.23", currency: "XYZ", want: 123},
		{name: "lost precision", amount: "1.234", currency: "USD", wantErr: true},
		{name: "comma", amount: "12,50", currency: "EUR", wantErr: true},
		{name: "empty", amount: "", currency: "USD", wantErr: true},
		{name: "only a point", amount: ".5", currency: "USD", wantErr: true},
		{name: "exponent notation", amount: "1e3", currency: "USD", wantErr: true},
		{name: "overflow", amount: "99999999999999999999", currency: "USD", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := money.Parse(c.amount, c.currency)
			if c.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q, %s) = %v; want an error", c.amount, c.currency, m)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %s): %v", c.amount, c.currency, err)
			}
			if m.GetMinorUnits() != c.want || m.GetCurrency() != c.currency {
				t.Fatalf("Parse(%q, %s) = %v; want %d %s", c.amount, c.currency, m, c.want, c.currency)
			}
		})
	}
}

func TestParseRounded(t *testing.T) {
	for in, want := range map[string]int64{
		"14.95": 1495, "3": 300, "0.1": 10, "19.999": 2000, "19.994": 1999, "-5.005": -501,
		"-5.00": -500, "1e2": 10000, "9.995": 1000, "14.950000001": 1495,
	} {
		m, err := money.ParseRounded(in, "USD")
		if err != nil || m.GetMinorUnits() != want {
			t.Errorf("ParseRounded(%q) = %v, %v; want %d", in, m, err, want)
		}
	}
	for _, in := range []string{"12,50", "", "abc", "1e"} {
		if m, err := money.ParseRounded(in, "EUR"); err == nil {
			t.Errorf("ParseRounded(%q) = %v; want an error", in, m)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	cases := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1990, "USD", "19.90"},
		{5, "USD", "0.05"},
		{-505, "USD", "-5.05"},
		{1500, "JPY", "1500"},
		{1234, "KWD", "1.234"},
	}
	for _, c := range cases {
		got := money.Format(c.minor, c.currency)
		if got != c.want {
			t.Errorf("Format(%d, %s) = %q; want %q", c.minor, c.currency, got, c.want)
		}
		back, err := money.Parse(got, c.currency)
		if err != nil || back.GetMinorUnits() != c.minor {
			t.Errorf("Parse(Format(%d, %s)) = %v, %v", c.minor, c.currency, back, err)
		}
	}
}

func ExampleParse() {
	m, err := money.Parse("19.90", "USD")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.GetMinorUnits(), money.Format(m.GetMinorUnits(), "USD"))
	// Output: 1990 19.90
}
