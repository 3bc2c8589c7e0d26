package record

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// maxRange bounds one MP4 request: a week of one path.
const maxRange = 7 * 24 * time.Hour

// pathItem is a path in GET /api/v1/recordings.
type pathItem struct {
	Path      string        `json:"path"`
	Segments  int           `json:"segments"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Bytes     int64         `json:"bytes"`
	Recording bool          `json:"recording"`
	Error     string        `json:"error,omitempty"`
	Matches   []segmentItem `json:"matches,omitempty"` // with ?device=: the segments that match
}

// segmentItem is a segment in GET /api/v1/recordings/{path}.
type segmentItem struct {
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration"`
	Bytes    int64     `json:"bytes"`
	Open     bool      `json:"open,omitempty"`
	Device
}

// Routes are the recordings API, by ServeMux pattern, for the gateway's
// one router (which adds the API guard and the 404/405 answers).
func (r *Recorder) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/v1/recordings":              r.handleList,
		"GET /api/v1/recordings/{path...}":    r.handleGet,
		"DELETE /api/v1/recordings/{path...}": r.handleDelete,
		"POST /api/v1/recordings/{path...}":   r.handlePost,
	}
}

// Handler serves Routes on a router of its own (tests, embedding).
func (r *Recorder) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range r.Routes() {
		mux.HandleFunc(pattern, h)
	}
	return mux
}

// handleList lists every recorded path; ?device=SN and/or ?flight=ID
// (with from= and to=) search the segments made while that device's video
// was recorded, during that flight.
func (r *Recorder) handleList(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	device, flight := q.Get("device"), q.Get("flight")
	search := device != "" || flight != ""
	from, err := optTime(q.Get("from"), time.Time{})
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", "from: "+err.Error())
		return
	}
	to, err := optTime(q.Get("to"), time.Time{})
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", "to: "+err.Error())
		return
	}
	items := []pathItem{}
	for path, l := range r.idx.snapshot("") {
		it := pathItem{Path: path}
		for _, e := range l {
			if device != "" && e.meta.SN != device || flight != "" && e.meta.FlightID != flight {
				continue
			}
			if !from.IsZero() && !e.end().After(from) || !to.IsZero() && !e.start.Before(to) {
				continue
			}
			it.add(e)
			if search {
				it.Matches = append(it.Matches, segItem(e))
			}
		}
		if it.Segments > 0 {
			items = append(items, it)
		}
	}
	r.mu.Lock()
	for i := range items {
		items[i].Recording = r.recs[items[i].Path] != nil
		items[i].Error = r.errs[items[i].Path]
	}
	r.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	gateway.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (it *pathItem) add(e entry) {
	if it.Segments == 0 || e.start.Before(it.Start) {
		it.Start = e.start
	}
	if end := e.end(); end.After(it.End) {
		it.End = end
	}
	it.Segments++
	it.Bytes += e.bytes
}

func segItem(e entry) segmentItem {
	return segmentItem{Start: e.start, Duration: e.dur, Bytes: e.bytes, Open: e.open, Device: e.meta}
}

// handleGet serves {path}, {path}/mp4 and {path}/osd.
func (r *Recorder) handleGet(w http.ResponseWriter, req *http.Request) {
	path := strings.Trim(req.PathValue("path"), "/")
	switch {
	case strings.HasSuffix(path, "/mp4"):
		r.serveMP4(w, req, strings.TrimSuffix(path, "/mp4"))
		return
	case strings.HasSuffix(path, "/osd"):
		r.serveOSD(w, req, strings.TrimSuffix(path, "/osd"))
		return
	}
	if !r.validOr400(w, path) {
		return
	}
	l := r.idx.snapshot(path)[path]
	r.mu.Lock()
	recording, errText := r.recs[path] != nil, r.errs[path]
	r.mu.Unlock()
	if len(l) == 0 && !recording {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "nothing recorded on path "+path)
		return
	}
	segs := make([]segmentItem, 0, len(l))
	for _, e := range l {
		segs = append(segs, segItem(e))
	}
	gateway.WriteJSON(w, http.StatusOK, map[string]any{"path": path, "segments": segs, "recording": recording, "error": errText})
}

// rangeParams reads start= (RFC 3339) and duration= (seconds).
func rangeParams(req *http.Request) (time.Time, time.Duration, error) {
	q := req.URL.Query()
	start, err := time.Parse(time.RFC3339Nano, q.Get("start"))
	if err != nil {
		return time.Time{}, 0, errors.New("start must be an RFC 3339 time (percent-encode a '+' offset)")
	}
	secs, err := strconv.ParseFloat(q.Get("duration"), 64)
	if err != nil || !(secs > 0) || time.Duration(secs*float64(time.Second)) > maxRange {
		return time.Time{}, 0, errors.New("duration must be a number of seconds above 0 and at most a week")
	}
	return start, time.Duration(secs * float64(time.Second)), nil
}

// serveMP4 answers with one MP4 of the range; Range, If-Range and HEAD are
// handled by http.ServeContent on its fixed layout.
func (r *Recorder) serveMP4(w http.ResponseWriter, req *http.Request, path string) {
	start, dur, ok := r.rangeOr400(w, req, path)
	if !ok {
		return
	}
	m, err := r.buildRange(path, start, dur)
	if errors.Is(err, errNothing) {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "nothing recorded on "+path+" in that range")
		return
	}
	if err != nil {
		gateway.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	defer m.Close()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	// The wall-clock time of the first sample: the MP4 begins at the
	// keyframe at or before start, so telemetry aligns on this.
	h.Set("X-Recording-Start", m.first.UTC().Format(time.RFC3339Nano))
	h.Set("X-Recording-Duration", strconv.FormatFloat(m.dur, 'f', 3, 64))
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, req, "", time.Time{}, m)
}

// serveOSD answers with the telemetry of the range as JSON lines.
func (r *Recorder) serveOSD(w http.ResponseWriter, req *http.Request, path string) {
	start, dur, ok := r.rangeOr400(w, req, path)
	if !ok {
		return
	}
	end := start.Add(dur)
	l := r.idx.snapshot(path)[path]
	if len(l) == 0 {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "nothing recorded on path "+path)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	for _, e := range l {
		if !e.start.Before(end) || !e.end().After(start) && !e.open {
			continue
		}
		f, err := os.Open(sidecar(e.file, osdExt))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line osdLine
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Time.Before(start) || !line.Time.Before(end) {
				continue
			}
			bw.Write(sc.Bytes())
			bw.WriteByte('\n')
		}
		f.Close()
	}
	_ = bw.Flush()
}

// handleDelete deletes the segments of path that end before ?before=.
func (r *Recorder) handleDelete(w http.ResponseWriter, req *http.Request) {
	path := strings.Trim(req.PathValue("path"), "/")
	if !r.validOr400(w, path) {
		return
	}
	before, err := time.Parse(time.RFC3339Nano, req.URL.Query().Get("before"))
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", "before must be an RFC 3339 time")
		return
	}
	if n := r.idx.deleteBefore(path, before); n > 0 {
		r.metrics.deleted.Add(uint64(n))
		removeEmptyDirs(r.Dir)
	}
	w.WriteHeader(http.StatusNoContent)
}

// handlePost serves {path}/start and {path}/stop.
func (r *Recorder) handlePost(w http.ResponseWriter, req *http.Request) {
	full := strings.Trim(req.PathValue("path"), "/")
	i := strings.LastIndexByte(full, '/')
	if i < 0 {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "POST .../start or .../stop")
		return
	}
	path, verb := full[:i], full[i+1:]
	if !r.validOr400(w, path) {
		return
	}
	var err error
	switch verb {
	case "start":
		err = r.Start(path)
	case "stop":
		err = r.Stop(path)
	default:
		gateway.WriteError(w, http.StatusNotFound, "not_found", "POST .../start or .../stop")
		return
	}
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	gateway.WriteJSON(w, http.StatusOK, map[string]any{"path": path, "recording": r.Recording(path), "requested": verb == "start"})
}

func (r *Recorder) validOr400(w http.ResponseWriter, path string) bool {
	if err := validPath(path); err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "invalid_path", err.Error())
		return false
	}
	return true
}

// rangeOr400 reads a range request's path and range, answering 400 and
// false when either is bad.
func (r *Recorder) rangeOr400(w http.ResponseWriter, req *http.Request, path string) (time.Time, time.Duration, bool) {
	if !r.validOr400(w, path) {
		return time.Time{}, 0, false
	}
	start, dur, err := rangeParams(req)
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return time.Time{}, 0, false
	}
	return start, dur, true
}

func optTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
