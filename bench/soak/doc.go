// Package soak is the long run behind `make soak`: the real skyrelay
// binary under fifty streams whose publishers and viewers connect,
// disconnect and reconnect for half an hour, with a trickle of malformed
// input on every listening port. At the end it asserts that memory and
// goroutines stayed flat, that no stream was lost and that no viewer still
// connected is left with a dead picture. It runs only when SKYRELAY_SOAK=1
// (make soak sets it), so `make test` never pays for it; docs/testing.md
// says what it does and how to read its figures.
package soak
