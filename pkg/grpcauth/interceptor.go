package grpcauth

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Authorize says whether p may call method: nil, or a PermissionDenied
// status naming who, what and the roles needed. A method without a rule
// in [Rules] is refused.
func Authorize(method string, p Principal) error {
	roles, ok := Rules[method]
	if !ok {
		return status.Errorf(codes.PermissionDenied, "%s has no access rule: refused for everyone", method)
	}
	if !p.Has(roles...) {
		return status.Errorf(codes.PermissionDenied, "%s may not call %s: it needs the role %s, and has %s",
			p, method, roleList(roles), roleList(p.Roles))
	}
	return nil
}

func roleList(roles []Role) string {
	if len(roles) == 0 {
		return "none"
	}
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// check authenticates and authorises a call to method, and returns the
// context with its principal.
func (a *Authenticator) check(ctx context.Context, method string) (context.Context, error) {
	if Open(method) {
		return ctx, nil
	}
	p, err := a.Authenticate(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, fmt.Sprintf("%s: %v", method, err))
	}
	if err := Authorize(method, p); err != nil {
		return nil, err
	}
	return NewContext(ctx, p), nil
}

// UnaryInterceptor authenticates and authorises every unary call.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := a.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// StreamInterceptor authenticates and authorises every streaming call.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := a.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
