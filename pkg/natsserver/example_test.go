package natsserver_test

import (
	"fmt"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/dropsync/dropsync/pkg/natsserver"
)

// An in-process server with JetStream, as `make run` and every test use it.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "natsserver-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // a scratch folder; nothing to do if it lingers
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	defer s.Stop()
	nc, err := nats.Connect(s.URL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	fmt.Println("JetStream:", s.JetStreamEnabled())
	// Output: JetStream: true
}
