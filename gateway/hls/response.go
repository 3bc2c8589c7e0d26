package hls

import (
	"net/http"

	"github.com/skyrelay/skyrelay/gateway"
)

// response sits between gohlslib and the client. It counts the bytes
// served, and turns gohlslib's bodiless answers into the API's JSON errors:
// nothing written at all (a file the muxer does not have) becomes a 404,
// an error status without a body gets {"error":{...}}.
type response struct {
	w        http.ResponseWriter
	status   int  // an error status held back until we know if a body follows
	wrote    bool // headers went out
	n        int  // body bytes written
	muxerEnd func() bool
}

func (r *response) Header() http.Header { return r.w.Header() }

func (r *response) WriteHeader(code int) {
	if r.wrote {
		return
	}
	if code >= 400 {
		r.status = code
		return
	}
	r.wrote = true
	r.w.WriteHeader(code)
}

func (r *response) Write(b []byte) (int, error) {
	if !r.wrote {
		r.wrote = true
		if r.status != 0 {
			r.w.WriteHeader(r.status)
		}
	}
	n, err := r.w.Write(b)
	r.n += n
	return n, err
}

// finish answers requests gohlslib left without a body.
func (r *response) finish() {
	if r.wrote {
		return
	}
	h := r.w.Header()
	h.Del("Cache-Control")
	h.Del("Content-Type")
	switch {
	case r.status == 0:
		gateway.WriteError(r.w, http.StatusNotFound, "not_found", "no such HLS file (it may have left the playlist)")
	case r.status == http.StatusBadRequest:
		gateway.WriteError(r.w, http.StatusBadRequest, "bad_request", "invalid playlist request (_HLS_msn/_HLS_part out of range)")
	case r.muxerEnd():
		gateway.WriteError(r.w, http.StatusNotFound, "not_found", "the stream ended")
	default:
		gateway.WriteError(r.w, r.status, "muxer_error", "the HLS muxer could not answer")
	}
}
