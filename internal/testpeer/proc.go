package testpeer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	ringLines   = 2000 // lines of output a Proc keeps
	maxLineLen  = 4096 // longer lines are cut
	logOnFail   = 200  // lines printed when the test fails
	stopGrace   = 5 * time.Second
	drainWindow = 2 * time.Second // how long output may trail the exit
)

type outLine struct {
	stderr bool
	text   string
}

type waiter struct {
	substr string
	n      int // matches wanted
	seen   int
	ch     chan string
}

// Proc is a process started for one test with Start or StartCmd. Its stdout
// and stderr are read line by line (a '\r' also ends a line, for ffmpeg's
// progress) into a ring of the last 2000 lines, which WaitOutput searches and
// which is printed when the test fails. It runs in its own process group
// and is killed, with its children, when the test ends.
type Proc struct {
	Name string    // base name of the executable, for messages
	Cmd  *exec.Cmd // the started command

	t        testing.TB
	mu       sync.Mutex
	ring     []outLine
	head     int // index of the oldest line once ring is full
	total    int
	waiters  []*waiter
	err      error         // from Cmd.Wait
	exited   chan struct{} // closed once the process is reaped
	done     chan struct{} // closed once reaped and its output read
	stopOnce sync.Once
}

// Start runs the tool name (a name as Require takes it: on PATH, an
// absolute path, or a known peer such as "mosquitto") with args, bound to t.
// A missing tool fails the test through Require. It is
// StartCmd(t, Command(t, name, args...)).
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, Command(t, name, args...))
}

// Command prepares a tool for StartCmd, for a test that sets Dir, Env or
// Stdin first. A missing tool fails the test through Require. Its stdout is
// made line-buffered with stdbuf(1) (coreutils) when there is one: C
// programs such as mosquitto_sub otherwise hold their output in a 4 KiB
// buffer while writing to a pipe, and WaitOutput would not see it.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	path := Path(t, name)
	if stdbuf, err := exec.LookPath("stdbuf"); err == nil {
		return exec.Command(stdbuf, append([]string{"-oL", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// StartCmd starts a prepared command bound to t. Its stdout and stderr are
// captured unless already set.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	name := filepath.Base(cmd.Path)
	if name == "stdbuf" && len(cmd.Args) > 2 {
		name = filepath.Base(cmd.Args[2])
	}
	p := &Proc{
		Name:   name,
		Cmd:    cmd,
		t:      t,
		exited: make(chan struct{}),
		done:   make(chan struct{}),
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Own process group, so Stop reaches children (a shell's, say); killed
	// with the test binary if that dies without running cleanups.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	var readEnds, writeEnds []*os.File
	pipe := func() (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		readEnds = append(readEnds, r)
		writeEnds = append(writeEnds, w)
		return w, nil
	}
	var streams []bool
	if cmd.Stdout == nil {
		w, err := pipe()
		if err != nil {
			t.Fatalf("testpeer: pipe: %v", err)
		}
		cmd.Stdout = w
		streams = append(streams, false)
	}
	if cmd.Stderr == nil {
		w, err := pipe()
		if err != nil {
			t.Fatalf("testpeer: pipe: %v", err)
		}
		cmd.Stderr = w
		streams = append(streams, true)
	}
	err := cmd.Start()
	for _, w := range writeEnds {
		w.Close()
	}
	if err != nil {
		for _, r := range readEnds {
			r.Close()
		}
		t.Fatalf("testpeer: start %s: %v", cmd.Path, err)
	}

	var readers sync.WaitGroup
	for i, r := range readEnds {
		readers.Add(1)
		go func(r *os.File, stderr bool) {
			defer readers.Done()
			defer r.Close()
			p.read(r, stderr)
		}(r, streams[i])
	}
	readersDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readersDone)
	}()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
		// Output still in the pipes comes right after the exit; a
		// grandchild that keeps the pipe open does not hold us up long.
		tm := time.NewTimer(drainWindow)
		select {
		case <-readersDone:
		case <-tm.C:
		}
		tm.Stop()
		close(p.done)
	}()

	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("testpeer: %s (pid %d, %s), last lines of its output:\n%s",
				p.Name, p.PID(), p.state(), p.tail(logOnFail, true))
		}
	})
	return p
}

// splitLines is bufio.ScanLines that also ends a line at '\r'.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func (p *Proc) read(r io.Reader, stderr bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sc.Split(splitLines)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		p.add(stderr, sc.Text())
	}
	// A line over 1 MiB stops the scanner: keep the pipe flowing anyway.
	io.Copy(io.Discard, r)
}

func (p *Proc) add(stderr bool, text string) {
	if len(text) > maxLineLen {
		text = text[:maxLineLen] + "…"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := outLine{stderr, text}
	if len(p.ring) < ringLines {
		p.ring = append(p.ring, l)
	} else {
		p.ring[p.head] = l
		p.head = (p.head + 1) % ringLines
	}
	p.total++
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if strings.Contains(text, w.substr) {
			w.seen++
			if w.seen >= w.n {
				w.ch <- text
				continue
			}
		}
		kept = append(kept, w)
	}
	p.waiters = kept
}

// lines returns the kept lines, oldest first; p.mu must be held.
func (p *Proc) lines() []outLine {
	out := make([]outLine, 0, len(p.ring))
	out = append(out, p.ring[p.head:]...)
	return append(out, p.ring[:p.head]...)
}

// Lines returns the kept lines of output (stdout and stderr interleaved in
// arrival order), oldest first.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines() {
		out = append(out, l.text)
	}
	return out
}

// Output returns the kept lines of output joined with newlines.
func (p *Proc) Output() string { return strings.Join(p.Lines(), "\n") }

func (p *Proc) tail(n int, prefix bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := p.lines()
	var b strings.Builder
	if dropped := p.total - len(ls) + max(0, len(ls)-n); dropped > 0 {
		fmt.Fprintf(&b, "  [%d earlier lines not shown]\n", dropped)
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	for _, l := range ls {
		if prefix {
			if l.stderr {
				b.WriteString("  err| ")
			} else {
				b.WriteString("  out| ")
			}
		}
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

func (p *Proc) state() string {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err == nil {
			return "exited 0"
		}
		return p.err.Error()
	default:
		return "running"
	}
}

// PID returns the process id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// WaitOutput waits until a line of output (stdout or stderr, from the
// start of the process) contains substr, and returns that line. It fails
// fast when the process exits first, and returns ctx's error when ctx ends.
func (p *Proc) WaitOutput(ctx context.Context, substr string) (string, error) {
	return p.WaitOutputN(ctx, substr, 1)
}

// WaitOutputN waits for the n-th line containing substr (counted among the
// kept lines and those to come) and returns it: e.g. the second "SUBACK"
// of a client that resubscribes after its broker restarted.
func (p *Proc) WaitOutputN(ctx context.Context, substr string, n int) (string, error) {
	p.mu.Lock()
	seen := 0
	for _, l := range p.lines() {
		if strings.Contains(l.text, substr) {
			seen++
			if seen >= n {
				p.mu.Unlock()
				return l.text, nil
			}
		}
	}
	w := &waiter{substr: substr, n: n, seen: seen, ch: make(chan string, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	defer p.dropWaiter(w)
	select {
	case line := <-w.ch:
		return line, nil
	case <-p.done:
		select {
		case line := <-w.ch:
			return line, nil
		default:
		}
		return "", fmt.Errorf("testpeer: %s (%s) ended before printing %q (x%d); last output:\n%s",
			p.Name, p.state(), substr, n, p.tail(20, true))
	case <-ctx.Done():
		return "", fmt.Errorf("testpeer: %s did not print %q (x%d): %w; last output:\n%s",
			p.Name, substr, n, ctx.Err(), p.tail(20, true))
	}
}

func (p *Proc) dropWaiter(w *waiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return
		}
	}
}

// Wait waits for the process to exit on its own and returns its exit error
// (nil for status 0), or ctx's error if ctx ends first.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("testpeer: %s still running: %w", p.Name, ctx.Err())
	}
}

// Stop ends the process: SIGTERM to its process group, SIGKILL after 5 s,
// then SIGKILL to anything left in the group. It returns the exit error as
// Wait would (a process that died of the signal gives an *exec.ExitError),
// so callers usually ignore it. Calling it again, or after the process
// exited on its own, is fine.
func (p *Proc) Stop() error { return p.stop(syscall.SIGTERM) }

// Kill ends the process and its group at once with SIGKILL, like a crash.
func (p *Proc) Kill() error { return p.stop(syscall.SIGKILL) }

func (p *Proc) stop(sig syscall.Signal) error {
	p.stopOnce.Do(func() {
		pgid := p.Cmd.Process.Pid
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-pgid, sig)
			tm := time.NewTimer(stopGrace)
			select {
			case <-p.exited:
			case <-tm.C:
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.exited
			}
			tm.Stop()
		}
		// Children left in the group (the leader may have exited alone).
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.t.Logf("testpeer: kill process group of %s: %v", p.Name, err)
		}
	})
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
