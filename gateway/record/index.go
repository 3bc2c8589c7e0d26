package record

import (
	"os"
	"sort"
	"sync"
	"time"
)

// entry is one segment as the index knows it.
type entry struct {
	path  string
	file  string
	run   string
	start time.Time
	dur   float64 // seconds
	bytes int64
	open  bool // being written
	meta  Device

	scan *scanned   // cached once the segment is closed
	live []partInfo // the parts written whole so far, while it is open
}

func (e *entry) end() time.Time { return e.start.Add(time.Duration(e.dur * float64(time.Second))) }

// index is every segment on disk, by path, sorted by start. It is built
// from the file layout at start and kept current by the writers.
type index struct {
	mu    sync.Mutex
	paths map[string][]*entry
	// cached are the entries holding a scan, oldest first: a one-hour
	// segment's part table is about half a megabyte, so only the last few
	// served are kept.
	cached []*entry
}

// maxCachedScans bounds the part tables kept in memory.
const maxCachedScans = 16

// cache keeps the scan of a closed segment for the next request.
func (x *index) cache(e *entry, s *scanned) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.scan != nil {
		return
	}
	e.scan = s
	x.cached = append(x.cached, e)
	if len(x.cached) > maxCachedScans {
		x.cached[0].scan = nil
		x.cached = append(x.cached[:0:0], x.cached[1:]...)
	}
}

func newIndex() *index { return &index{paths: map[string][]*entry{}} }

func (x *index) add(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l := append(x.paths[e.path], e)
	sort.SliceStable(l, func(i, j int) bool { return l[i].start.Before(l[j].start) })
	x.paths[e.path] = l
}

// update changes an entry under the index lock.
func (x *index) update(e *entry, fn func(e *entry)) {
	x.mu.Lock()
	fn(e)
	x.mu.Unlock()
}

func (x *index) remove(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l := x.paths[e.path]
	for i, y := range l {
		if y == e {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(x.paths, e.path)
	} else {
		x.paths[e.path] = l
	}
}

// snapshot copies the entries of one path (all paths when path is "").
func (x *index) snapshot(path string) map[string][]entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string][]entry{}
	for p, l := range x.paths {
		if path != "" && p != path {
			continue
		}
		c := make([]entry, len(l))
		for i, e := range l {
			c[i] = *e
		}
		out[p] = c
	}
	return out
}

// entries returns the live entries of path (for the server, which caches
// scans in them).
func (x *index) entries(path string) []*entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]*entry(nil), x.paths[path]...)
}

// deleteBefore removes the closed segments of path (all paths when "")
// that end before t, with their side files; it returns how many.
func (x *index) deleteBefore(path string, t time.Time) int {
	x.mu.Lock()
	var gone []*entry
	for p, l := range x.paths {
		if path != "" && p != path {
			continue
		}
		keep := l[:0:0]
		for _, e := range l {
			if !e.open && e.end().Before(t) {
				gone = append(gone, e)
			} else {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			delete(x.paths, p)
		} else {
			x.paths[p] = keep
		}
	}
	x.mu.Unlock()
	for _, e := range gone {
		removeSegment(e.file)
	}
	return len(gone)
}

// removeSegment deletes a segment, its side files and the folders it
// leaves empty (up to the day folder's parent).
func removeSegment(file string) {
	_ = os.Remove(file)
	_ = os.Remove(sidecar(file, metaExt))
	_ = os.Remove(sidecar(file, osdExt))
	_ = os.Remove(sidecar(file, idxExt))
}
