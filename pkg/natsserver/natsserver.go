// Package natsserver runs an in-process NATS server with JetStream: the
// embedded default of `make run`, and the real server every test uses.
package natsserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	// Host to listen on; "127.0.0.1" when empty.
	Host string
	// Port to listen on; -1 picks a free port.
	Port int
	// StoreDir holds JetStream's files.
	StoreDir string
	// ServerName names the server (JetStream needs a stable name to reuse StoreDir).
	ServerName string
	// RelaxedSync turns off fsync after every write. By default the server
	// runs with `sync_interval: always`: the Jepsen analysis of NATS 2.12.1
	// lost acknowledged writes with the 2-minute default. Relax it only where
	// losing the last acknowledged events on a power cut is acceptable.
	RelaxedSync bool
}

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := opts.ServerName
	if name == "" {
		name = "dropsync-embedded"
	}
	s, err := server.NewServer(&server.Options{
		ServerName: name,
		Host:       host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: !opts.RelaxedSync,
	})
	if err != nil {
		return nil, fmt.Errorf("natsserver: new: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natsserver: not ready after 10s")
	}
	return &Server{Server: s}, nil
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}
