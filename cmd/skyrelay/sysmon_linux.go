package main

import (
	"os"
	"strings"
	"syscall"
)

// steadySysmonGODEBUG keeps the Go runtime's monitor thread (sysmon) on its
// steady 10 ms tick instead of letting it sleep deeply whenever every P is
// idle. A gateway is idle most of the time between packets, so without
// this every burst of work starts with a system call that has to wake
// sysmon (a futex), which then polls every 20 µs for a millisecond before
// backing off again: thousands of wake-ups per second that do nothing for
// the streams. Measured on 30 RTMP publishers (`make bench`, BenchmarkIngest30):
// 0.0063–0.0064 CPU-s per stream-second without it, 0.0042–0.0043 with it.
// See golang.org/issue/18236 for the runtime side.
//
// The runtime has no API for this, only GODEBUG: a scheduler trace
// interval (schedtrace, in ms) makes sysmon skip its deep sleep. The interval
// chosen is the largest one, about 24.8 days of the monotonic clock,
// so the trace line itself practically never prints (at most one
// "SCHED" line on standard error per 24.8 days of uptime, and a scheduler
// dump next to a fatal crash report, which is welcome).
const steadySysmonGODEBUG = "schedtrace=2147483647"

// steadySysmon re-executes the binary in place (same PID, arguments and
// environment) with steadySysmonGODEBUG added, because the runtime reads
// GODEBUG only at start-up. It returns when there is nothing to do (the
// setting, or any schedtrace the operator chose, is already there) or when
// the re-exec fails, in which case the gateway runs with the default
// runtime behaviour.
func steadySysmon() {
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, "schedtrace=") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if godebug != "" {
		godebug += ","
	}
	// Replace, not append: with two GODEBUG entries the first one wins,
	// and the new process would exec again, for ever.
	env := []string{"GODEBUG=" + godebug + steadySysmonGODEBUG}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	_ = syscall.Exec(exe, os.Args, env)
}
