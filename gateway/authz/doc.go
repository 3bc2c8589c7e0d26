// Package authz decides who may read (and publish) a path beyond the
// loopback rule and the per-push secrets of gateway.Auth: JSON Web Tokens
// signed with a shared secret (HS256) or by keys published at a JWKS URL
// (RS256, ES256) whose claims name the paths and device serial numbers
// allowed, as mediamtx's JWT authentication does, and an external HTTP hook
// that answers each request, as SRS's on_play/on_publish and mediamtx's
// HTTP authentication do.
//
// The JWT verifier is a few dozen lines over crypto/: a dependency for three
// algorithms would bring more surface (alg "none", key confusion) than it
// removes.
package authz
