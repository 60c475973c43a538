// Package grpcserver runs a gRPC server the way every dropsync service does:
// TLS (mTLS with a client CA), callers authenticated and authorised per
// method (package grpcauth), health registered (open to probes), reflection
// when configured, panics turned into errors, a graceful stop bounded in
// time when the context ends.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Server is a secured gRPC server with health.
type Server struct {
	*grpc.Server
	// Health reports serving status; services flip it when ready.
	Health *health.Server
	log    *slog.Logger
	tel    *telemetry.Providers
}

// Telemetry is a ServerOption that makes New's server trace and measure
// its calls with p (otelgrpc) instead of the global providers.
func Telemetry(p *telemetry.Providers) grpc.ServerOption { return telemetryOption{p: p} }

type telemetryOption struct {
	grpc.EmptyServerOption
	p *telemetry.Providers
}

// New returns a server with health, panic recovery and an
// OpenTelemetry stats handler: a span per call (the caller's trace
// continued) and the rpc.server metrics, with the Telemetry option's
// providers, else the global ones. By itself it is neither encrypted nor
// authenticated: services serve with NewSecure, which calls it.
func New(log *slog.Logger, opts ...grpc.ServerOption) *Server {
	s := &Server{Health: health.NewServer(), log: log}
	tel := telemetry.FromContext(context.Background())
	for _, o := range opts {
		if t, ok := o.(telemetryOption); ok && t.p != nil {
			tel = t.p
		}
	}
	s.tel = tel
	opts = append(opts,
		grpc.StatsHandler(tel.GRPCServerHandler()),
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	)
	s.Server = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s.Server, s.Health)
	for _, o := range opts {
		if _, ok := o.(reflectionOption); ok {
			reflection.Register(s.Server)
			break
		}
	}
	return s
}

// NewSecure is New secured as cfg says (grpcauth.ServerOptions): TLS, or
// mTLS with a client CA, callers authenticated and authorised per method,
// health open to probes, reflection only if cfg.Reflection. Every service
// serves with it. ctx bounds the JWKS refresh.
func NewSecure(ctx context.Context, log *slog.Logger, cfg config.GRPC, opts ...grpc.ServerOption) (*Server, error) {
	secure, err := grpcauth.ServerOptions(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.Reflection {
		secure = append(secure, reflectionOption{})
	}
	secure = append(secure, Telemetry(telemetry.FromContext(ctx)))
	return New(log, append(secure, opts...)...), nil
}

// reflectionOption makes New register the reflection service.
type reflectionOption struct{ grpc.EmptyServerOption }

// Serve serves on lis until ctx ends, then stops gracefully, waiting at most
// grace for in-flight calls before cutting them off.
func (s *Server) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.log.Warn("grpc graceful stop timed out; closing open calls", "grace", grace)
		s.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc serve: %w", err)
	}
	return nil
}

// OpsHandler serves the ops endpoints: /livez (200 while the process
// runs), /readyz and /healthz (200 while the health service says SERVING
// for the server as a whole, 503 otherwise) and /metrics (the providers'
// metrics in the Prometheus text format).
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+telemetry.LivePath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	ready := func(w http.ResponseWriter, r *http.Request) {
		res, err := s.Health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET "+telemetry.ReadyPath, ready)
	mux.HandleFunc("GET "+telemetry.HealthPath, ready)
	mux.Handle("GET "+telemetry.MetricsPath, s.tel.MetricsHandler())
	return mux
}

// ServeOps serves OpsHandler on lis until ctx ends.
func (s *Server) ServeOps(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s.OpsHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops serve: %w", err)
	}
	return nil
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "panic in grpc handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return h(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ss.Context(), "panic in grpc stream", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return h(srv, ss)
}

// ListenOps opens the ops listener ServeOps serves; nil when cfg has no
// address.
func ListenOps(ctx context.Context, cfg config.Ops) (net.Listener, error) {
	if cfg.OpsAddr == "" {
		return nil, nil
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.OpsAddr)
	if err != nil {
		return nil, fmt.Errorf("ops listener %s: %w", cfg.OpsAddr, err)
	}
	return lis, nil
}
