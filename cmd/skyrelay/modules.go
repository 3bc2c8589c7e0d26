package main

// namedModule pairs a module with the name its logs and errors carry.
type namedModule struct {
	name string
	mod  module
}

// modules is Skyrelay at a glance: every component, in start order.
// The HTTP server starts last so that /healthz answers only once every
// other listener is up.
func (a *app) modules() []namedModule {
	return []namedModule{
		{"http", a.http},
	}
}
