// Package authz decides who may read a path or use the API beyond the
// loopback rule and the static credentials of gateway.Auth: JSON Web Tokens
// signed with a shared secret (HS256) or by keys published at a JWKS URL
// (RS256, ES256) whose claims name the paths and device serial numbers
// allowed, as mediamtx's JWT authentication does, and an external HTTP hook
// that answers each request, as SRS's on_play and mediamtx's HTTP
// authentication do. Publishing keeps gateway.Auth's own rules.
//
// The JWT verifier is a few dozen lines over crypto/: a dependency for three
// algorithms would bring more surface (alg "none", key confusion) than it
// removes.
package authz
