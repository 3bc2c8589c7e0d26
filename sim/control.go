package sim

import (
	"encoding/json"
	"net/http"
	"slices"
)

// ControlHandler serves the failure-injection endpoint of a running
// simulator: POST /inject with an Injection as JSON body applies it to every
// device in faults (keyed by device SN), or only to the one named by the
// query parameter sn. It answers {"applied_to":[SN...]}.
func ControlHandler(faults map[string]*Faults) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /inject", func(w http.ResponseWriter, r *http.Request) {
		var in Injection
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad injection: " + err.Error()})
			return
		}
		var sns []string
		if sn := r.URL.Query().Get("sn"); sn != "" {
			if faults[sn] == nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no simulated device " + sn})
				return
			}
			sns = []string{sn}
		} else {
			for sn := range faults {
				sns = append(sns, sn)
			}
			slices.Sort(sns)
		}
		for _, sn := range sns {
			faults[sn].Inject(in)
		}
		writeJSON(w, http.StatusOK, map[string]any{"applied_to": sns})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
