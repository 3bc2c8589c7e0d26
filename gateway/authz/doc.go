// Package authz decides who may publish, read a path or use the API. Auth
// is the gate every server asks: loopback may publish, anything else needs
// a per-push secret or a static credential (gate.go); reading is open unless
// a read credential, a token or a hook is configured (readgate.go). Beyond
// the loopback rule and the static credentials, Authorizer checks JSON Web Tokens
// signed with a shared secret (HS256) or by keys published at a JWKS URL
// (RS256, ES256) whose claims name the paths and device serial numbers
// allowed, as mediamtx's JWT authentication does, and an external HTTP hook
// that answers each request, as SRS's on_play and mediamtx's HTTP
// authentication do. Publishing keeps Auth's own rules.
//
// The JWT verifier is a few dozen lines over crypto/: a dependency for three
// algorithms would bring more surface (alg "none", key confusion) than it
// removes.
package authz
