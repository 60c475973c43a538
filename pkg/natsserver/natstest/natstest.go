// Package natstest starts an embedded JetStream server for a test and
// connects to it, as nats.go's own tests do.
package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dropsync/dropsync/pkg/natsserver"
)

// Server starts an embedded server on a free port with its store in a
// temporary folder, and stops it when the test ends.
func Server(tb testing.TB) *natsserver.Server {
	tb.Helper()
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("start nats server: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Connect starts a server and returns a connection to it, closed when the
// test ends.
func Connect(tb testing.TB) (*natsserver.Server, *nats.Conn) {
	tb.Helper()
	s := Server(tb)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return s, nc
}

// ConnectRelaxed is Connect on a server that does not fsync every write,
// for long simulations whose subject is not durability: a hundred
// thousand fsynced writes take minutes on a shared disk.
func ConnectRelaxed(tb testing.TB) (*natsserver.Server, *nats.Conn) {
	tb.Helper()
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: tb.TempDir(), RelaxedSync: true})
	if err != nil {
		tb.Fatalf("start nats server: %v", err)
	}
	tb.Cleanup(s.Stop)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return s, nc
}
