package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
)

func TestPause(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		base    time.Duration
		round   int
		err     error
		want    bool
		atLeast time.Duration
		atMost  time.Duration
	}{
		{name: "jittered backoff under the ceiling", ctx: context.Background(), base: time.Millisecond, round: 3, err: errors.New("x"),
			want: true, atMost: time.Second},
		{name: "retry-after when longer", ctx: context.Background(), base: time.Microsecond, round: 1,
			err: fmt.Errorf("wrapped: %w", &client.Error{RetryAfter: 30 * time.Millisecond}), want: true, atLeast: 30 * time.Millisecond, atMost: 5 * time.Second},
		{name: "context ended", ctx: canceled, base: time.Hour, round: 1, err: errors.New("x"), want: false, atMost: time.Second},
		{name: "ceiling capped at 64 times base", ctx: context.Background(), base: time.Microsecond, round: 1000, want: true, atMost: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if got := client.Pause(tc.ctx, tc.base, tc.round, tc.err); got != tc.want {
				t.Fatalf("Pause = %v, want %v", got, tc.want)
			}
			if took := time.Since(start); took < tc.atLeast || took > tc.atMost {
				t.Errorf("Pause took %s, want between %s and %s", took, tc.atLeast, tc.atMost)
			}
		})
	}
}
