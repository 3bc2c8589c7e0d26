// Command docksim lets you try Skyrelay without a drone: it simulates a DJI
// Dock 3 with a Matrice 4TD and a DJI RC Plus 2 (Pilot 2) with a Matrice 4T
// against any MQTT 3.1.1 or 5 broker, and pushes a real H.264 clip over RTMP
// when the cloud asks for live video. The simulation itself is package sim;
// this command only parses flags. See README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/skyrelay/skyrelay/sim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "docksim:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		broker      = flag.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL (tcp://host:port or tls://host:port)")
		version     = flag.Int("mqtt-version", 4, "MQTT protocol version: 4 (3.1.1) or 5")
		username    = flag.String("username", "", "MQTT username")
		password    = flag.String("password", "", "MQTT password (or set $DOCKSIM_MQTT_PASSWORD)")
		devices     = flag.String("device", "both", "what to simulate: dock, rc or both")
		dockSN      = flag.String("dock-sn", sim.DefaultDockSN, "Dock 3 serial number")
		dockACSN    = flag.String("dock-aircraft-sn", sim.DefaultDockAircraftSN, "serial number of the dock's Matrice 4TD")
		rcSN        = flag.String("rc-sn", sim.DefaultRCSN, "RC Plus 2 serial number")
		rcACSN      = flag.String("rc-aircraft-sn", sim.DefaultRCAircraftSN, "serial number of the RC's Matrice 4T")
		osd         = flag.Duration("osd-interval", 2*time.Second, "osd period for docks, remote controllers and aircraft")
		topoRetry   = flag.Duration("topo-retry", 5*time.Second, "re-send update_topo this often until status_reply")
		events      = flag.Duration("event-interval", 30*time.Second, "hms event period (every third asks for events_reply); 0 disables")
		flight      = flag.String("flight-id", "", "report a flight task with this id running (flighttask_progress with every osd)")
		dockQuirks  = flag.Bool("dock-quirks", true, "dock stream quirks: 0xF5 SEI units and empty NAL units")
		rcQuirks    = flag.Bool("rc-quirks", false, "the same quirks on the RC's stream")
		failCode    = flag.Int("fail-start-code", 0, "reply this code (e.g. 513006) to the first live_start_push commands")
		failTimes   = flag.Int("fail-start-times", 1, "how many live_start_push get -fail-start-code")
		replyDelay  = flag.Duration("reply-delay", 0, "delay every services_reply")
		noReply     = flag.Int("no-reply", 0, "ignore the first N services commands (-1: all)")
		dropEvery   = flag.Duration("drop-mqtt-every", 0, "drop the MQTT connection this often (0: never)")
		dropFor     = flag.Duration("drop-mqtt-for", time.Second, "stay offline this long after a drop")
		gap         = flag.Duration("media-gap", 5*time.Second, "length of a media gap")
		gapEvery    = flag.Duration("media-gap-every", 0, "pause running pushes for -media-gap this often, then reconnect them (0: never)")
		control     = flag.String("control", "", "listen address of the control endpoint (POST /inject), e.g. :8090")
		logLevel    = flag.String("log-level", "info", "debug, info, warn or error")
		sims        []func(context.Context) error
		faultsBySN  = map[string]*sim.Faults{}
		injectFlags sim.Injection
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: docksim [flags]\n\nSimulates a DJI Dock 3 and an RC Plus 2 over MQTT. Flags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if *password == "" {
		*password = os.Getenv("DOCKSIM_MQTT_PASSWORD")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *events == 0 {
		*events = -1 // sim: negative means never
	}
	injectFlags = sim.Injection{StartPushCode: *failCode, StartPushTimes: *failTimes,
		ReplyDelay: sim.Duration(*replyDelay), NoReply: *noReply}
	options := func(sn string) sim.Options {
		f := sim.NewFaults()
		f.Inject(injectFlags)
		faultsBySN[sn] = f
		o := sim.Options{Broker: *broker, MQTTVersion: *version, Username: *username, Password: *password,
			OSDInterval: *osd, TopoRetry: *topoRetry, EventInterval: *events, Faults: f, Logger: logger}
		if sn == *dockSN {
			o.FlightID = *flight
		}
		return o
	}
	if *devices == "dock" || *devices == "both" {
		d := sim.Dock{SN: *dockSN, AircraftSN: *dockACSN, NoQuirks: !*dockQuirks, Options: options(*dockSN)}
		sims = append(sims, d.Run)
	}
	if *devices == "rc" || *devices == "both" {
		r := sim.RC{SN: *rcSN, AircraftSN: *rcACSN, Quirks: *rcQuirks, Options: options(*rcSN)}
		sims = append(sims, r.Run)
	}
	if *devices == "both" && *dockSN == *rcSN {
		return fmt.Errorf("-dock-sn and -rc-sn are both %q: each device needs its own SN", *dockSN)
	}
	if len(sims) == 0 {
		return fmt.Errorf("-device %q: want dock, rc or both", *devices)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, len(sims)+1)
	if *control != "" {
		ln, err := net.Listen("tcp", *control)
		if err != nil {
			return fmt.Errorf("-control: %w", err)
		}
		srv := &http.Server{Handler: sim.ControlHandler(faultsBySN), ReadHeaderTimeout: 5 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
				stop()
			}
		}()
		logger.Info("control endpoint listening", "addr", ln.Addr().String(), "try", "curl -d '{\"start_push_code\":513006,\"start_push_times\":2}' http://"+ln.Addr().String()+"/inject")
	}
	periodic(ctx, *dropEvery, faultsBySN, sim.Injection{DropMQTT: true, DropMQTTFor: sim.Duration(*dropFor)})
	periodic(ctx, *gapEvery, faultsBySN, sim.Injection{MediaGap: sim.Duration(*gap)})

	for _, g := range sims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g(ctx); err != nil {
				errs <- err
				stop()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// periodic injects in into every simulated device every d, until ctx ends.
func periodic(ctx context.Context, d time.Duration, faults map[string]*sim.Faults, in sim.Injection) {
	if d <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, f := range faults {
					f.Inject(in)
				}
			}
		}
	}()
}
