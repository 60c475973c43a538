package grpcauth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/devpki"
)

// A server that requires mTLS, and clients calling it with a service's
// certificate and with an operator's.
func Example() {
	dir, _ := os.MkdirTemp("", "grpcauth")
	defer func() { _ = os.RemoveAll(dir) }()
	pki, err := devpki.Setup(dir, "orders", "shopify", "operator")
	if err != nil {
		panic(err)
	}
	srvCfg := config.GRPC{
		GRPCClient:      config.GRPCClient{TLSCertFile: pki.CertFile("orders"), TLSKeyFile: pki.KeyFile("orders")},
		TLSClientCAFile: pki.CAFile,
		CertRoles:       devpki.SPIFFEID("shopify") + "=service," + devpki.SPIFFEID("operator") + "=operator",
	}
	opts, err := grpcauth.ServerOptions(context.Background(), srvCfg, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(opts...)
	ordersv1.RegisterOrderServiceServer(srv, unimplementedOrders{})
	lis, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	for _, who := range []string{"shopify", "operator"} {
		dial, err := grpcauth.DialOptions(config.GRPCClient{TLSCAFile: pki.CAFile, TLSCertFile: pki.CertFile(who), TLSKeyFile: pki.KeyFile(who)})
		if err != nil {
			panic(err)
		}
		cc, err := grpc.NewClient(lis.Addr().String(), dial...)
		if err != nil {
			panic(err)
		}
		_, err = ordersv1.NewOrderServiceClient(cc).PlaceOrders(context.Background(), &ordersv1.PlaceOrdersRequest{})
		fmt.Printf("%s: %s\n", who, status.Code(err)) // Unimplemented: past authorisation
		_ = cc.Close()
	}
	// Output:
	// shopify: PermissionDenied
	// operator: Unimplemented
}
