package webrtc

import (
	"io"
	"net/http"

	"github.com/skyrelay/skyrelay/gateway"
)

// trickle answers a PATCH of trickled ICE candidates for a WHEP or WHIP
// (kind) session whose peer is p (RFC 9725 §4.3.1, RFC 8840 sdpfrag). A
// fragment with another ufrag is an ICE restart, which is not supported.
func trickle(w http.ResponseWriter, r *http.Request, p *peer, etag, kind string) {
	if !hasType(r, "application/trickle-ice-sdpfrag") {
		gateway.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send candidates with Content-Type: application/trickle-ice-sdpfrag")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != etag {
		gateway.WriteError(w, http.StatusPreconditionFailed, "etag_mismatch", "If-Match does not name this ICE session")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFragmentSize))
	if err != nil {
		gateway.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "the SDP fragment is larger than 16 kB")
		return
	}
	frag, err := parseICEFragment(string(body))
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "invalid_sdpfrag", err.Error())
		return
	}
	if frag.Ufrag != "" && frag.Ufrag != p.remoteUfrag() {
		gateway.WriteError(w, http.StatusNotImplemented, "ice_restart_not_supported", "ICE restart is not supported: start a new "+kind+" session")
		return
	}
	for _, c := range frag.Candidates {
		if err := p.pc.AddICECandidate(c); err != nil {
			gateway.WriteError(w, http.StatusBadRequest, "invalid_candidate", "cannot add candidate: "+err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
