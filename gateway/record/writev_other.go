//go:build !linux

package record

import "os"

// writeParts writes bufs to f in one write, joined first.
func writeParts(f *os.File, bufs [][]byte) (int, error) { return f.Write(join(bufs)) }
