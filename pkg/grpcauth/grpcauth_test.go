package grpcauth_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/devpki"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/grpcserver"
)

// method is one RPC of a dropsync service, from the registered
// descriptors.
type method struct {
	name      string // /package.Service/Method
	streaming bool
}

// dropsyncMethods lists every method of every service in the dropsync.*
// proto packages linked into this binary (the generated code registers
// its files), so a method added to a proto shows up here by itself.
func dropsyncMethods(t *testing.T) []method {
	t.Helper()
	var ms []method
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "dropsync.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				ms = append(ms, method{
					name:      "/" + string(sd.FullName()) + "/" + string(md.Name()),
					streaming: md.IsStreamingClient() || md.IsStreamingServer(),
				})
			}
		}
		return true
	})
	if len(ms) < 20 {
		t.Fatalf("only %d dropsync methods registered: are the proto packages linked?", len(ms))
	}
	return ms
}

// TestEveryMethodHasARule fails for a method added to a dropsync service
// without an access rule (it would be refused to everyone).
func TestEveryMethodHasARule(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range dropsyncMethods(t) {
		seen[m.name] = true
		roles, ok := grpcauth.Rules[m.name]
		if !ok {
			t.Errorf("%s has no rule in grpcauth.Rules", m.name)
			continue
		}
		if len(roles) == 0 {
			t.Errorf("%s: a rule with no roles", m.name)
		}
	}
	for name := range grpcauth.Rules {
		if !seen[name] && !strings.HasPrefix(name, "/grpc.reflection.") {
			t.Errorf("rule for %s, which no service has", name)
		}
	}
}

// unimplemented serves every dropsync service with its Unimplemented
// stubs: a call that gets past authorisation answers Unimplemented.
type (
	unimplementedOrders struct {
		ordersv1.UnimplementedOrderServiceServer
	}
	unimplementedNotifier struct {
		notifierv1.UnimplementedShippingConfirmationServiceServer
	}
	unimplementedSupplier struct {
		aliexpressv1.UnimplementedSupplierSyncServiceServer
	}
)

// serve runs a server secured by cfg with every service registered, and
// returns its address.
func serve(t *testing.T, cfg config.GRPC) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := grpcserver.NewSecure(ctx, log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ordersv1.RegisterOrderServiceServer(srv.Server, unimplementedOrders{})
	notifierv1.RegisterShippingConfirmationServiceServer(srv.Server, unimplementedNotifier{})
	aliexpressv1.RegisterSupplierSyncServiceServer(srv.Server, unimplementedSupplier{})
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return lis.Addr().String()
}

// call calls m with an empty request and returns the status code.
func call(t *testing.T, cc *grpc.ClientConn, m method, opts ...grpc.CallOption) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if m.streaming {
		var s grpc.ClientStream
		s, err = cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, m.name, opts...)
		if err == nil {
			if err = s.SendMsg(&emptypb.Empty{}); err == nil {
				_ = s.CloseSend()
				err = s.RecvMsg(&emptypb.Empty{})
			}
		}
	} else {
		err = cc.Invoke(ctx, m.name, &emptypb.Empty{}, &emptypb.Empty{}, opts...)
	}
	return status.Code(err)
}

// bearer is per-call credentials sending tok.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

var _ credentials.PerRPCCredentials = bearer("")

func dial(t *testing.T, addr string, c config.GRPCClient) *grpc.ClientConn {
	t.Helper()
	opts, err := grpcauth.DialOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestEveryMethodOverLoopback calls every method of every dropsync
// service over TLS: anonymous, with the wrong role, with an expired token
// and with each right role.
func TestEveryMethodOverLoopback(t *testing.T) {
	pki := grpcauthtest.New(t)
	iss := grpcauthtest.NewIssuer(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	cfg.TLSClientCAFile = "" // TLS without mTLS, so that anonymous callers get as far as the interceptor
	iss.Secure(&cfg)
	addr := serve(t, cfg)
	cc := dial(t, addr, config.GRPCClient{TLSCAFile: pki.CAFile})

	for _, m := range dropsyncMethods(t) {
		allowed := grpcauth.Rules[m.name]
		t.Run(strings.TrimPrefix(m.name, "/"), func(t *testing.T) {
			if got := call(t, cc, m); got != codes.Unauthenticated {
				t.Errorf("anonymous: %s, want Unauthenticated", got)
			}
			if got := call(t, cc, m, grpc.PerRPCCredentials(bearer("not-a-token"))); got != codes.Unauthenticated {
				t.Errorf("unknown token: %s, want Unauthenticated", got)
			}
			var wrong []grpcauth.Role
			for _, r := range grpcauth.AllRoles {
				if !(grpcauth.Principal{Roles: allowed}).Has(r) {
					wrong = append(wrong, r)
				}
			}
			tok := iss.Token(t, "someone", time.Now().Add(time.Hour), wrong...)
			if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(tok))); got != codes.PermissionDenied {
				t.Errorf("roles %v: %s, want PermissionDenied", wrong, got)
			}
			expired := iss.Token(t, "someone", time.Now().Add(-time.Hour), allowed...)
			if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(expired))); got != codes.Unauthenticated {
				t.Errorf("expired JWT: %s, want Unauthenticated", got)
			}
			for _, r := range allowed {
				if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(pki.Token(r)))); got != codes.Unimplemented {
					t.Errorf("static token of %s: %s, want Unimplemented (past authorisation)", r, got)
				}
				jwt := iss.Token(t, "someone", time.Now().Add(time.Hour), r)
				if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(jwt))); got != codes.Unimplemented {
					t.Errorf("JWT with %s: %s, want Unimplemented (past authorisation)", r, got)
				}
			}
		})
	}
}

func TestPermissionDeniedSaysWhy(t *testing.T) {
	pki := grpcauthtest.New(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	cc := pki.Dial(serve(t, cfg), grpcauth.RoleReader)
	_, err := ordersv1.NewOrderServiceClient(cc).PlaceOrders(context.Background(), &ordersv1.PlaceOrdersRequest{})
	st, _ := status.FromError(err)
	if st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "test-reader") || !strings.Contains(st.Message(), "operator") {
		t.Fatalf("PlaceOrders as a reader: %v; want PermissionDenied naming the caller and the role needed", err)
	}
}

func TestHealthIsOpenReflectionIsNot(t *testing.T) {
	pki := grpcauthtest.New(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	cfg.TLSClientCAFile = ""
	addr := serve(t, cfg)
	cc := dial(t, addr, config.GRPCClient{TLSCAFile: pki.CAFile})
	r, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("anonymous health check: %v %v, want SERVING", r, err)
	}
	m := method{name: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", streaming: true}
	if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(pki.Token(grpcauth.RoleOperator)))); got != codes.Unimplemented {
		t.Fatalf("reflection, off: %s, want Unimplemented (not registered)", got)
	}
	cfg.Reflection = true
	cc = dial(t, serve(t, cfg), config.GRPCClient{TLSCAFile: pki.CAFile})
	if got := call(t, cc, m); got != codes.Unauthenticated {
		t.Fatalf("reflection, anonymous: %s, want Unauthenticated", got)
	}
}

func TestMutualTLS(t *testing.T) {
	pki := grpcauthtest.New(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	addr := serve(t, cfg)
	getSettings := method{name: ordersv1.OrderService_GetStoreSettings_FullMethodName}
	place := method{name: ordersv1.OrderService_PlaceOrders_FullMethodName}

	t.Run("service certificate", func(t *testing.T) {
		cc := dial(t, addr, pki.ClientConfig("shopify"))
		if got := call(t, cc, getSettings); got != codes.Unimplemented {
			t.Errorf("shopify's certificate on GetStoreSettings: %s, want past authorisation", got)
		}
		if got := call(t, cc, place); got != codes.PermissionDenied {
			t.Errorf("shopify's certificate on PlaceOrders: %s, want PermissionDenied", got)
		}
	})
	t.Run("certificate without a role", func(t *testing.T) {
		cc := dial(t, addr, pki.ClientConfig("stranger"))
		if got := call(t, cc, getSettings); got != codes.PermissionDenied {
			t.Errorf("%s, want PermissionDenied", got)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		cc := dial(t, addr, config.GRPCClient{TLSCAFile: pki.CAFile})
		if got := call(t, cc, getSettings, grpc.PerRPCCredentials(bearer(pki.Token(grpcauth.RoleService)))); got != codes.Unavailable {
			t.Errorf("%s, want the handshake refused (Unavailable)", got)
		}
	})
	t.Run("certificate of another CA", func(t *testing.T) {
		other := grpcauthtest.New(t)
		c := other.ClientConfig("shopify")
		c.TLSCAFile = pki.CAFile // trusts the server, but its own certificate is not from the server's CA
		cc := dial(t, addr, c)
		if got := call(t, cc, getSettings); got != codes.Unavailable {
			t.Errorf("%s, want the handshake refused (Unavailable)", got)
		}
	})
	t.Run("server of another CA", func(t *testing.T) {
		other := grpcauthtest.New(t)
		cc := dial(t, addr, other.ClientConfig("shopify"))
		if got := call(t, cc, getSettings); got != codes.Unavailable {
			t.Errorf("%s, want the server's certificate refused (Unavailable)", got)
		}
	})
}

// TestRotation rewrites the server's certificate (a new CA's) and a
// client's, as cert-manager does, and new connections use them without a
// restart.
func TestRotation(t *testing.T) {
	pki := grpcauthtest.New(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	addr := serve(t, cfg)
	getSettings := method{name: ordersv1.OrderService_GetStoreSettings_FullMethodName}
	client := pki.ClientConfig("shopify")
	if got := call(t, dial(t, addr, client), getSettings); got != codes.Unimplemented {
		t.Fatalf("before rotation: %s", got)
	}

	next := grpcauthtest.New(t)
	copyFile(t, next.CAFile, cfg.TLSClientCAFile) // the server now trusts (and is issued by) the new CA only
	copyLeaf(t, next, devpki.Local("orders"), cfg.TLSCertFile, cfg.TLSKeyFile)

	if got := call(t, dial(t, addr, client), getSettings); got != codes.Unavailable {
		t.Errorf("old CA after rotation: %s, want refused", got)
	}
	copyFile(t, next.CAFile, client.TLSCAFile)
	copyLeaf(t, next, devpki.Local("shopify"), client.TLSCertFile, client.TLSKeyFile)
	if got := call(t, dial(t, addr, client), getSettings); got != codes.Unimplemented {
		t.Errorf("rotated certificates: %s, want past authorisation", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := devpki.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyLeaf(t *testing.T, pki *grpcauthtest.PKI, id devpki.Identity, certFile, keyFile string) {
	t.Helper()
	c, k := pki.Leaf(id)
	copyFile(t, k, keyFile)
	copyFile(t, c, certFile)
}

// TestTokensFileReload rotates a static token in the tokens file.
func TestTokensFileReload(t *testing.T) {
	pki := grpcauthtest.New(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	cc := dial(t, serve(t, cfg), pki.ClientConfig("test-client"))
	m := method{name: ordersv1.OrderService_CountOrders_FullMethodName}
	old := pki.Token(grpcauth.RoleReader)
	if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(old))); got != codes.Unimplemented {
		t.Fatalf("before: %s", got)
	}
	fresh := devpki.Token()
	if err := devpki.WriteFile(cfg.TokensFile, []byte("# rotated\nsha256:"+sha256hex(fresh)+" ops reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(old))); got != codes.Unauthenticated {
		t.Errorf("old token after rotation: %s, want Unauthenticated", got)
	}
	if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(fresh))); got != codes.Unimplemented {
		t.Errorf("new token: %s, want past authorisation", got)
	}
}

func TestConfigRefusesNoCredentials(t *testing.T) {
	var cfg config.GRPC
	cfg.ShutdownGrace = time.Second
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "DROPSYNC_GRPC_TLS_CERT_FILE") || !strings.Contains(err.Error(), "DROPSYNC_GRPC_TLS_CLIENT_CA_FILE") {
		t.Fatalf("Validate of an empty config: %v, want TLS and authentication required", err)
	}
	if _, err := grpcserver.NewSecure(context.Background(), slog.New(slog.DiscardHandler), cfg); err == nil {
		t.Fatal("NewSecure served without TLS or credentials")
	}
	cfg.Plaintext = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("plaintext development config: %v", err)
	}
}

// TestJWTChecks: only a JWT of the pinned algorithms, the issuer and the
// audience, with an exp, gets in.
func TestJWTChecks(t *testing.T) {
	pki := grpcauthtest.New(t)
	iss := grpcauthtest.NewIssuer(t)
	var cfg config.GRPC
	pki.Secure(&cfg, "orders")
	cfg.TLSClientCAFile = ""
	iss.Secure(&cfg)
	cfg.JWTLeeway = 30 * time.Second // the default
	cc := dial(t, serve(t, cfg), config.GRPCClient{TLSCAFile: pki.CAFile})
	m := method{name: ordersv1.OrderService_CountOrders_FullMethodName}
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": iss.Issuer, "aud": iss.Audience, "sub": "ada", "roles": []string{"reader"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte("a shared secret"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		token string
		want  codes.Code
	}{
		"valid":                 {iss.Sign(t, claims(nil)), codes.Unimplemented},
		"roles as a string":     {iss.Sign(t, claims(func(c jwt.MapClaims) { c["roles"] = "reader operator" })), codes.Unimplemented},
		"other issuer":          {iss.Sign(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), codes.Unauthenticated},
		"other audience":        {iss.Sign(t, claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), codes.Unauthenticated},
		"no exp":                {iss.Sign(t, claims(func(c jwt.MapClaims) { delete(c, "exp") })), codes.Unauthenticated},
		"expired past leeway":   {iss.Sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), codes.Unauthenticated},
		"expired within leeway": {iss.Sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })), codes.Unimplemented},
		"no subject":            {iss.Sign(t, claims(func(c jwt.MapClaims) { delete(c, "sub") })), codes.Unauthenticated},
		"HS256":                 {hs256, codes.Unauthenticated},
		"no roles":              {iss.Sign(t, claims(func(c jwt.MapClaims) { delete(c, "roles") })), codes.PermissionDenied},
	} {
		t.Run(name, func(t *testing.T) {
			if got := call(t, cc, m, grpc.PerRPCCredentials(bearer(tc.token))); got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
}
