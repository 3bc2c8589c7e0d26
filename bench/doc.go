// Package bench measures Skyrelay as operators run it: the real binary in
// its own process, real publishers (ffmpeg), and WHEP readers, with CPU and
// memory read from /proc and the latency Skyrelay adds read from its
// /metrics. Run it with `make bench`; the figures go to docs/benchmarks.md.
package bench
