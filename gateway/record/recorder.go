package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Recorder writes the paths it is asked to record and serves what it
// wrote. Fill the fields, then Initialize; Close ends every segment.
type Recorder struct {
	Hub *gateway.Hub
	// Enabled records every path matching Paths; when false only paths
	// started through the API are recorded.
	Enabled bool
	Paths   []string // globs: `*` one path segment, `**` any number
	Dir     string
	// SegmentDuration is the length after which a new file starts, at the
	// next keyframe.
	SegmentDuration time.Duration
	// PartDuration bounds what a crash can lose: data reaches the disk at
	// least this often.
	PartDuration time.Duration
	// DeleteAfter removes segments that ended longer ago; 0 keeps them.
	DeleteAfter time.Duration
	// OnSegmentComplete is a shell command run for each finished segment.
	OnSegmentComplete string
	// QueueSize is how many frames the disk may fall behind before the
	// recording loses frames up to the next keyframe.
	QueueSize int
	Log       *slog.Logger

	// segmentDone, when set (tests), hears of every finished segment.
	segmentDone func(path, file string)
	// beforeWrite, when set (tests), runs before each part is written: a
	// slow disk.
	beforeWrite func()

	idx       *index
	metrics   *metrics
	mu        sync.Mutex
	recs      map[string]*pathRec
	requested map[string]bool   // API start (true) and stop (false)
	devices   map[string]Device // by path
	errs      map[string]string // the last write error, by path
	hooks     sync.WaitGroup
	stop      chan struct{}
	wg        sync.WaitGroup
}

// Initialize rebuilds the index from the files, repairs torn tails and
// starts recording the streams already there. A folder that cannot be
// written is reported, not fatal: live streaming does not depend on it.
func (r *Recorder) Initialize() error {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.Dir == "" {
		r.Dir = "./recordings"
	}
	if r.SegmentDuration <= 0 {
		r.SegmentDuration = time.Hour
	}
	if r.PartDuration <= 0 {
		r.PartDuration = time.Second
	}
	if r.QueueSize <= 0 {
		r.QueueSize = 4 * gateway.DefaultQueueSize
	}
	for _, g := range r.Paths {
		if strings.TrimSpace(g) == "" {
			return errors.New("record.paths: empty pattern")
		}
	}
	r.idx = newIndex()
	if r.metrics == nil {
		r.metrics = newMetrics(r)
	}
	r.recs = map[string]*pathRec{}
	r.requested = map[string]bool{}
	r.devices = map[string]Device{}
	r.errs = map[string]string{}
	r.stop = make(chan struct{})
	// The folder is made when something is to be recorded; a gateway that
	// records nothing leaves no trace on disk.
	if r.Enabled {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			r.metrics.writeErrors.Add(1)
			r.Log.Error("recordings folder cannot be made; recording will fail until it can", "dir", r.Dir, "err", err)
		}
	}
	r.rebuild()
	r.wg.Add(1)
	go r.runRetention()
	if r.Hub != nil {
		for _, s := range r.Hub.Streams() {
			r.maybeRecord(s.Path())
		}
	}
	return nil
}

// Close finishes every open segment and waits for the hooks.
func (r *Recorder) Close() {
	if r.stop == nil {
		return
	}
	select {
	case <-r.stop:
		return // closed already
	default:
	}
	close(r.stop)
	r.mu.Lock()
	recs := r.recs
	r.recs = map[string]*pathRec{}
	r.mu.Unlock()
	for _, p := range recs {
		close(p.quit)
		<-p.done
	}
	r.wg.Wait()
	r.hooks.Wait()
}

// StreamEvent is fed the hub's events (gateway.Event kinds): a stream that
// becomes ready is recorded when it should be; a publisher that drops ends
// the segment, so its return starts a new one.
func (r *Recorder) StreamEvent(path, kind string) {
	switch gateway.EventKind(kind) {
	case gateway.EventReady, gateway.EventBack:
		r.maybeRecord(path)
	case gateway.EventLost:
		r.mu.Lock()
		p := r.recs[path]
		r.mu.Unlock()
		if p != nil {
			select {
			case p.cut <- "publisher lost":
			default:
			}
		}
	}
}

// wants tells whether path is to be recorded. r.mu is held.
func (r *Recorder) wants(path string) bool {
	if v, ok := r.requested[path]; ok {
		return v
	}
	if !r.Enabled {
		return false
	}
	for _, g := range r.Paths {
		if matchGlob(g, path) {
			return true
		}
	}
	return false
}

// maybeRecord attaches a recorder to path's stream if it should have one.
// No lock is held while the reader is added: that emits a hub event, and
// the hub's event goroutine may be the caller.
func (r *Recorder) maybeRecord(path string) {
	if r.Hub == nil {
		return
	}
	s := r.Hub.Stream(path)
	if s == nil {
		return
	}
	r.mu.Lock()
	if !r.wants(path) {
		r.mu.Unlock()
		return
	}
	select {
	case <-r.stop:
		r.mu.Unlock()
		return
	default:
	}
	if p := r.recs[path]; p != nil && p.stream == s {
		select {
		case <-p.done:
		default:
			r.mu.Unlock()
			return
		}
	}
	p, err := newPathRec(r, s, r.devices[path])
	if err != nil {
		r.mu.Unlock()
		r.Log.Warn("path not recorded", "path", path, "err", err)
		return
	}
	r.recs[path] = p
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			if r.recs[path] == p {
				delete(r.recs, path)
			}
			r.mu.Unlock()
		}()
		if err := s.AddReader(p.reader); err != nil {
			close(p.done)
			return
		}
		r.Log.Info("recording", "path", path)
		p.runLoop()
	}()
}

// Start records path from now on, whether or not record.paths names it.
func (r *Recorder) Start(path string) error {
	if err := validPath(path); err != nil {
		return err
	}
	r.mu.Lock()
	r.requested[path] = true
	r.mu.Unlock()
	r.maybeRecord(path)
	return nil
}

// Stop ends the recording of path and keeps it off until Start.
func (r *Recorder) Stop(path string) error {
	if err := validPath(path); err != nil {
		return err
	}
	r.mu.Lock()
	r.requested[path] = false
	p := r.recs[path]
	delete(r.recs, path)
	r.mu.Unlock()
	if p != nil {
		close(p.quit)
		<-p.done
	}
	return nil
}

// Recording tells whether path has a recorder attached now.
func (r *Recorder) Recording(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[path] != nil
}

// SetDevice tells which device, video and flight path carries; segments
// written from now on carry it.
func (r *Recorder) SetDevice(path string, d Device) {
	r.mu.Lock()
	r.devices[path] = d
	p := r.recs[path]
	r.mu.Unlock()
	if p != nil {
		select {
		case p.dev <- d:
		case <-p.done:
		}
	}
}

// SetVideo is SetDevice in the control plane's words (control.Recorder):
// path carries videoID of device sn, filmed during flight; all empty
// when the plane's live session on path ended.
func (r *Recorder) SetVideo(path, sn, videoID, flight string) {
	r.SetDevice(path, Device{SN: sn, VideoID: videoID, FlightID: flight})
}

// OSD hands one telemetry message of device sn to every path that device
// feeds. It never blocks: a writer that is behind loses the message.
func (r *Recorder) OSD(sn string, at time.Time, osd json.RawMessage) {
	if sn == "" {
		return
	}
	r.mu.Lock()
	var to []*pathRec
	for path, p := range r.recs {
		if r.devices[path].SN == sn {
			to = append(to, p)
		}
	}
	r.mu.Unlock()
	for _, p := range to {
		select {
		case p.osd <- osdSample{at: at, osd: osd}:
		default:
			r.metrics.osdDropped.Add(1)
		}
	}
}

func (r *Recorder) setError(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.errs, path)
	} else {
		r.errs[path] = err.Error()
	}
}

// rebuild reads the index from the folder. A file torn by a crash is cut
// back to its last whole part; a file without even an init is removed.
func (r *Recorder) rebuild() {
	n := 0
	_ = filepath.WalkDir(r.Dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		path, start, run, ok := parseSegmentFile(r.Dir, file)
		if !ok {
			return nil
		}
		e, err := loadSegment(file, true)
		if err != nil {
			r.Log.Warn("damaged recording removed", "file", file, "err", err)
			removeSegment(file)
			return nil
		}
		e.path, e.start, e.run = path, start, run
		r.idx.add(e)
		n++
		return nil
	})
	r.Log.Info("recordings indexed", "dir", r.Dir, "segments", n)
}

// loadSegment scans a closed segment file; repair cuts a torn tail.
func loadSegment(file string, repair bool) (*entry, error) {
	flag := os.O_RDONLY
	if repair {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(file, flag, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s, err := readScan(f, st.Size())
	if err != nil {
		return nil, err
	}
	if len(s.parts) == 0 {
		return nil, errors.New("no complete part")
	}
	if repair && s.end < st.Size() {
		if err := f.Truncate(s.end); err != nil {
			return nil, fmt.Errorf("cutting the torn tail: %w", err)
		}
	}
	if repair && !s.idx {
		// A segment cut by a crash has no part table yet: it gets one now.
		_ = writeIdx(file, s.end, s.parts)
	}
	return &entry{file: file, dur: s.duration(), bytes: s.end, meta: readMeta(file)}, nil
}

// runRetention deletes what is older than DeleteAfter, by end time.
func (r *Recorder) runRetention() {
	defer r.wg.Done()
	if r.DeleteAfter <= 0 {
		<-r.stop
		return
	}
	every := min(max(r.DeleteAfter/4, 100*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			if n := r.idx.deleteBefore("", now.Add(-r.DeleteAfter)); n > 0 {
				r.metrics.deleted.Add(uint64(n))
				r.Log.Info("old recordings deleted", "segments", n)
				removeEmptyDirs(r.Dir)
			}
		}
	}
}

// removeEmptyDirs removes the folders under dir that hold nothing.
func removeEmptyDirs(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		_ = os.Remove(d) // fails, as it should, when not empty
	}
}
