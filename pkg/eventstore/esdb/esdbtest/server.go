package esdbtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Version is the EventStoreDB version the server reports in its features.
const Version = "24.10.0"

// Server is a running test double of an EventStoreDB node.
type Server struct {
	lis      net.Listener
	grpc     *grpc.Server
	log      *eventLog
	done     chan struct{}
	stopOnce sync.Once
	served   chan struct{}
}

// Start starts a server on 127.0.0.1, on a free port, stops it when the test
// ends, and returns its connection string ("esdb://127.0.0.1:PORT?tls=false").
func Start(t testing.TB) (url string) {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("esdbtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s.URL()
}

// Listen starts a server on addr ("127.0.0.1:0" picks a free port).
func Listen(addr string) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esdbtest: listen %s: %w", addr, err)
	}
	return Serve(lis), nil
}

// Serve starts a server accepting connections on lis, in the background,
// until [Server.Stop]. The log starts with a few system events, as a fresh
// EventStoreDB node's does.
func Serve(lis net.Listener) *Server {
	s := &Server{
		lis: lis,
		grpc: grpc.NewServer(
			// The client pings every 10 s, with or without calls in flight.
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime:             time.Second,
				PermitWithoutStream: true,
			}),
		),
		log:    newEventLog(time.Now),
		done:   make(chan struct{}),
		served: make(chan struct{}),
	}
	s.seed()
	streams.RegisterStreamsServer(s.grpc, &streamsServer{log: s.log, done: s.done})
	serverfeatures.RegisterServerFeaturesServer(s.grpc, featuresServer{})
	gossip.RegisterGossipServer(s.grpc, gossipServer{addr: lis.Addr()})
	go func() {
		defer close(s.served)
		_ = s.grpc.Serve(lis) // returns when Stop closes lis
	}()
	return s
}

// URL is the server's connection string, without TLS.
func (s *Server) URL() string { return "esdb://" + s.lis.Addr().String() + "?tls=false" }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Stop ends every call, subscriptions included, closes every connection and
// the listener, and drops the events. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.done)
		s.grpc.Stop()
		<-s.served
	})
}

// seed writes the system events a fresh EventStoreDB node starts with.
func (s *Server) seed() {
	for _, e := range []struct{ stream, eventType, data string }{
		{"$epochs", "$epoch-information", `{"epochNumber":0}`},
		{"$users", "$User", `{"loginName":"admin"}`},
		{"$$$scavenges", "$metadata", `{"$maxAge":2592000}`},
	} {
		s.log.append(e.stream, expectation{kind: expectAny}, []proposed{{
			id:        uuid.New(),
			eventType: e.eventType,
			json:      true,
			data:      []byte(e.data),
		}})
	}
}

// featuresServer tells the client which calls the server has.
type featuresServer struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func (featuresServer) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	method := func(service, name string) *serverfeatures.SupportedMethod {
		return &serverfeatures.SupportedMethod{ServiceName: service, MethodName: name}
	}
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: Version,
		Methods: []*serverfeatures.SupportedMethod{
			method("event_store.client.streams.streams", "read"),
			method("event_store.client.streams.streams", "append"),
			method("event_store.client.gossip.gossip", "read"),
			method("event_store.client.server_features.serverfeatures", "getsupportedmethods"),
		},
	}, nil
}

// gossipServer describes a cluster of one: this node, the leader.
type gossipServer struct {
	gossip.UnimplementedGossipServer
	addr net.Addr
}

func (g gossipServer) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	host, port := "127.0.0.1", uint32(0)
	if tcp, ok := g.addr.(*net.TCPAddr); ok {
		host, port = tcp.IP.String(), uint32(tcp.Port)
	}
	return &gossip.ClusterInfo{Members: []*gossip.MemberInfo{{
		InstanceId:   uuidToProto(instanceID, true),
		TimeStamp:    time.Now().UnixNano() / 100,
		State:        gossip.MemberInfo_Leader,
		IsAlive:      true,
		HttpEndPoint: &gossip.EndPoint{Address: host, Port: port},
	}}}, nil
}

// instanceID names the one node of the cluster.
var instanceID = uuid.MustParse("e5d1a6c4-0b1f-4f59-9d3a-6a8f0e0c2a11")
