// Package ports holds what the Wix connector is asked through: the webhook
// endpoint (JWT verification and decoding, on the shared webhook handler),
// the command consumer and the settings follower.
package ports
