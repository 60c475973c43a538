// Package grpcauth secures dropsync's gRPC servers and clients: TLS from
// certificate files re-read when they change (cert-manager renews them in
// place), mutual TLS when a client CA is configured, caller authentication
// and per-method authorisation by role.
//
// # Who a caller is
//
// A caller is a [Principal]: a name, the kind of credential that proved it
// and the roles it holds. In order:
//
//   - a bearer token in the "authorization" metadata: a static token from
//     the tokens file (a mounted Secret, each line "token principal
//     role,role"; compared as SHA-256 hashes in constant time) or a JWT
//     checked against a JWKS URL (pinned algorithms, issuer, audience, exp
//     required, a small leeway; roles from a configurable claim);
//   - otherwise the verified client certificate of an mTLS connection: its
//     first URI SAN (spiffe://dropsync/orders), else its first DNS SAN, else
//     its subject CN, mapped to roles by the cert roles setting;
//   - otherwise anonymous, refused with Unauthenticated by every method
//     but the health service's.
//
// A bad, unknown or expired credential is Unauthenticated; a valid one
// without the role a method needs is PermissionDenied. The principal is in
// the handler's context: [FromContext].
//
// # What a role may call
//
// [Rules] names every method of every dropsync service and the roles that
// may call it: [RoleReader] the reads, [RoleOperator] the reads and every
// command an operator gives, [RoleService] what the services call on each
// other. A method without a rule is refused (default deny); the health
// service is open to anonymous callers (kubelet probes); reflection, when
// a server registers it, needs a reader or an operator.
//
// # Development
//
// Plaintext (config.GRPCClient.Plaintext, DROPSYNC_GRPC_PLAINTEXT) turns
// TLS off and lets a caller without credentials in as the principal
// "plaintext-dev" with every role; credentials presented are still
// checked. It is for a laptop, never for a cluster: the server logs a
// warning saying so. make run does not use it: the dev stack issues its
// own CA and certificates (package devpki) and runs mTLS.
package grpcauth
