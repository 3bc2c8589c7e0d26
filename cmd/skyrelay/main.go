// Command skyrelay is the live-video gateway for DJI drones and docks: it
// takes RTMP, RTSP, WHIP and GB28181 in, serves WebRTC, LL-HLS and RTSP out,
// and drives the devices over MQTT (the DJI Cloud API).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/gb28181/siplog"
)

func main() {
	steadySysmon()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("skyrelay", flag.ContinueOnError)
	cfgPath := fs.String("config", "configs/skyrelay.yml", "YAML configuration file")
	check := fs.Bool("check", false, "validate the configuration and exit (0 valid, 1 not)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := conf.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *check {
		fmt.Println("config ok")
		return 0
	}
	log := newLogger(cfg.LogLevel)
	slog.SetDefault(log)
	siplog.SetLibraryDefault(log.With("module", "sip"))

	a := &app{cfg: cfg, log: log}
	if err := a.start(); err != nil {
		log.Error("start-up failed", "err", err)
		a.stop()
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	log.Info("shutting down")
	a.stop()
	return 0
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
