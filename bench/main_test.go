package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// viewersEnv makes the test binary a crowd of WHEP viewers instead of
// running benchmarks: "N URL [URL...]" puts N viewers on each URL, prints
// "ready" and keeps them until stdin closes. The in-process benchmarks run
// their viewers this way, in another process, so that the profile of the
// test process is Skyrelay's alone.
const viewersEnv = "SKYRELAY_BENCH_VIEWERS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(viewersEnv); spec != "" {
		os.Exit(runViewers(spec))
	}
	os.Exit(m.Run())
}

func runViewers(spec string) int {
	f := strings.Fields(spec)
	n, err := strconv.Atoi(f[0])
	if err != nil || len(f) < 2 {
		fmt.Fprintf(os.Stderr, "%s: want \"N URL [URL...]\", got %q\n", viewersEnv, spec)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var all []*whepclient.Client
	for _, url := range f[1:] {
		cs, err := whepclient.StartViewers(ctx, url, n, func(c *whepclient.Client) { c.NoNACK = true })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		all = append(all, cs...)
	}
	cancel()
	fmt.Printf("ready %d\n", len(all))
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until stdin closes
	whepclient.CloseAll(all)
	return 0
}
