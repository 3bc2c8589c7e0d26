package main

import (
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/gateway"
)

// module is a component with a lifecycle: listeners open in Initialize and
// every connection ends in Close.
type module interface {
	Initialize() error
	Close()
}

// app holds the running modules, in start order.
type app struct {
	cfg     conf.Config
	log     *slog.Logger
	hub     *gateway.Hub
	auth    *authz.Auth
	http    *gateway.HTTPServer
	reg     *prometheus.Registry
	mux     *http.ServeMux // the one router: /healthz, /metrics and /api/
	started []module
	healthy atomic.Bool
}

func (a *app) start() error {
	c := a.cfg
	a.hub = gateway.NewHub(c.Streams.ReconnectGrace, a.log.With("module", "streams"))
	a.auth = &authz.Auth{ReadUser: c.Auth.ReadUser, ReadPass: string(c.Auth.ReadPassword),
		Authz: readAuthorizer(c.Auth), DistrustLoopback: !c.Auth.LoopbackTrusted}
	for _, p := range c.Auth.Publishers {
		a.auth.Static = append(a.auth.Static, authz.StaticUser{User: p.User, Pass: string(p.Password)})
	}
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(a.hub.Collector())
	// go_goroutines and the heap figures: how an operator (and make soak)
	// tells a leak from load.
	a.reg.MustRegister(collectors.NewGoCollector())

	a.mux = http.NewServeMux()
	a.http = &gateway.HTTPServer{Address: c.HTTP.Listen, AllowOrigins: c.HTTP.CORSOrigins, Mux: a.mux, Log: a.log.With("module", "http")}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.healthy.Load() {
			gateway.WriteError(w, http.StatusServiceUnavailable, "starting", "listeners are not all up yet")
			return
		}
		gateway.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	a.addAPI(a.hub.Routes())
	a.mux.Handle("/api/", apiGuard(string(c.Auth.APIToken), a.auth, gateway.APINotFound(a.mux, "/api/")))

	mods, err := a.modules()
	if err != nil {
		return err
	}
	for _, m := range mods {
		if err := m.mod.Initialize(); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		a.started = append(a.started, m.mod)
		a.log.Info("module up", "module", m.name)
	}
	a.healthy.Store(true)
	return nil
}

// addAPI puts routes under /api/ on the one router, each behind the guard.
func (a *app) addAPI(routes map[string]http.HandlerFunc) {
	token := string(a.cfg.Auth.APIToken)
	for pattern, h := range routes {
		a.mux.Handle(pattern, apiGuard(token, a.auth, h))
	}
}

func (a *app) stop() {
	a.healthy.Store(false)
	for i := len(a.started) - 1; i >= 0; i-- {
		a.started[i].Close()
	}
	a.started = nil
	if a.hub != nil {
		a.hub.Close()
	}
}
