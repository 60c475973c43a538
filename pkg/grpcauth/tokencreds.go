package grpcauth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/credentials"
)

// TokenFile sends the token in file as "authorization: Bearer <token>" on
// every call, re-reading the file when it changes (a rotated Secret, a JWT
// refreshed by a sidecar). With requireTLS, gRPC refuses to send it over a
// plaintext connection.
func TokenFile(file string, requireTLS bool) (credentials.PerRPCCredentials, error) {
	t := &tokenCreds{file: newWatched(parseToken, file), tls: requireTLS}
	if _, err := t.file.get(); err != nil {
		return nil, err
	}
	return t, nil
}

func parseToken(b [][]byte) (string, error) {
	tok := strings.TrimSpace(string(b[0]))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("token file: want one token, on one line")
	}
	return tok, nil
}

type tokenCreds struct {
	file *watched[string]
	tls  bool
}

func (t *tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := t.file.get()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (t *tokenCreds) RequireTransportSecurity() bool { return t.tls }
