package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// TestSteadySysmon: the running gateway carries the GODEBUG setting that
// keeps sysmon off its deep sleep (sysmon_linux.go), on top of whatever
// GODEBUG it was started with, and under the PID it was started with, so
// service managers and the SIGTERM test still see the same process.
func TestSteadySysmon(t *testing.T) {
	t.Setenv("GODEBUG", "madvdontneed=1")
	g := gwproc.Start(t, "")
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", g.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("GODEBUG=madvdontneed=1," + steadySysmonGODEBUG + "\x00")
	if !bytes.Contains(env, want) {
		t.Fatalf("gateway environment lacks %q:\n%s", want, bytes.ReplaceAll(env, []byte{0}, []byte{'\n'}))
	}
}
