package grpcauth

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dropsync/dropsync/pkg/config"
)

// ServerOptions return the options that secure a gRPC server as cfg says:
// its transport credentials and the authentication interceptors, first in
// the chain. ctx bounds the JWKS refresh.
func ServerOptions(ctx context.Context, cfg config.GRPC, log *slog.Logger) ([]grpc.ServerOption, error) {
	certRoles, err := cfg.CertRoleMap()
	if err != nil {
		return nil, fmt.Errorf("DROPSYNC_GRPC_CERT_ROLES: %w", err)
	}
	roles := make(map[string][]Role, len(certRoles))
	for id, names := range certRoles {
		for _, n := range names {
			roles[id] = append(roles[id], Role(n))
		}
	}
	auth, err := NewAuthenticator(ctx, AuthOptions{
		TokensFile:    cfg.TokensFile,
		JWKSURL:       cfg.JWKSURL,
		JWTIssuer:     cfg.JWTIssuer,
		JWTAudience:   cfg.JWTAudience,
		JWTRolesClaim: cfg.JWTRolesClaim,
		JWTLeeway:     cfg.JWTLeeway,
		CertRoles:     roles,
		Plaintext:     cfg.Plaintext,
	})
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	if cfg.Plaintext {
		log.WarnContext(ctx, "gRPC is plaintext, and callers without credentials get every role (DROPSYNC_GRPC_PLAINTEXT): for development only")
		creds = insecure.NewCredentials()
	} else {
		if cfg.TLSClientCAFile == "" && cfg.TokensFile == "" && cfg.JWKSURL == "" {
			return nil, fmt.Errorf("grpc: no way to authenticate callers: set DROPSYNC_GRPC_TLS_CLIENT_CA_FILE, _TOKENS_FILE or _JWKS_URL")
		}
		if creds, err = ServerCredentials(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSClientCAFile); err != nil {
			return nil, fmt.Errorf("grpc: %w", err)
		}
	}
	return []grpc.ServerOption{
		grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(auth.StreamInterceptor()),
	}, nil
}

// DialOptions return the options a client of another dropsync service
// dials with: TLS (with the client certificate, if cfg has one) and the
// bearer token from cfg.TokenFile, or plaintext in development.
func DialOptions(cfg config.GRPCClient) ([]grpc.DialOption, error) {
	var opts []grpc.DialOption
	if cfg.Plaintext {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		creds, err := ClientCredentials(cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSServerName)
		if err != nil {
			return nil, fmt.Errorf("grpc client: %w", err)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	}
	if cfg.TokenFile != "" {
		tok, err := TokenFile(cfg.TokenFile, !cfg.Plaintext)
		if err != nil {
			return nil, fmt.Errorf("grpc client: DROPSYNC_GRPC_TOKEN_FILE: %w", err)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(tok))
	}
	return opts, nil
}
