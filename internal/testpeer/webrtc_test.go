package testpeer

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// The browser's fixed flags let WebRTC run between the page and a peer on
// loopback: a fake camera publishes to a pion answerer that only gathers
// 127.0.0.1 candidates (what a WHIP test does against Skyrelay).
func TestBrowserWebRTCOverLoopback(t *testing.T) {
	ctx := Context(t, 60*time.Second)

	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))

	var packets atomic.Int64
	var codec atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, webrtcPage)
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path != "/offer" {
			http.NotFound(w, r)
			return
		}
		offer, _ := io.ReadAll(r.Body)
		// Chromium offers its loopback candidate thanks to
		// --allow-loopback-in-peer-connection; keep only those, so pion's
		// own checks go to 127.0.0.1 alone.
		sdp := loopbackCandidatesOnly(string(offer))
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		t.Cleanup(func() { pc.Close() })
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			codec.Store(tr.Codec().MimeType)
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				packets.Add(1)
			}
		})
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(answer); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		<-gathered
		io.WriteString(w, pc.LocalDescription().SDP)
	}))
	defer srv.Close()

	res := Browser(t, ctx, BrowserJob{
		URL:       srv.URL + "/",
		FakeMedia: true,
		WaitFor:   "window.err || (window.pc && window.pc.connectionState === 'connected' && window.framesSent() > 30)",
		Evaluate:  "window.report()",
		TimeoutMs: 20000,
	})
	var got struct {
		Err    string `json:"err"`
		Frames int    `json:"frames"`
		Local  string `json:"local"`
		Remote string `json:"remote"`
	}
	if err := res.Decode(&got); err != nil || got.Err != "" {
		t.Fatalf("result %s: %v", res.Result, err)
	}
	t.Logf("browser sent %d frames over %s -> %s; pion got %d RTP packets of %v", got.Frames, got.Local, got.Remote, packets.Load(), codec.Load())
	if !strings.HasPrefix(got.Remote, "127.0.0.1:") || packets.Load() == 0 {
		t.Fatalf("no media over loopback: %+v, %d packets", got, packets.Load())
	}
}

const webrtcPage = `<!doctype html><script>
let frames = 0;
window.framesSent = () => frames;
(async () => {
  const pc = new RTCPeerConnection();
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}});
  s.getTracks().forEach(tr => pc.addTrack(tr, s));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
  });
  const resp = await fetch('/offer', {method: 'POST', body: pc.localDescription.sdp});
  if (!resp.ok) throw new Error('offer: ' + resp.status + ' ' + await resp.text());
  await pc.setRemoteDescription({type: 'answer', sdp: await resp.text()});
  window.pc = pc;
  setInterval(async () => {
    (await pc.getStats()).forEach(x => { if (x.type === 'outbound-rtp' && x.kind === 'video') frames = x.framesEncoded; });
  }, 100);
  window.report = async () => {
    const st = await pc.getStats();
    let pair, loc, rem;
    st.forEach(x => { if (x.type === 'transport') pair = st.get(x.selectedCandidatePairId); });
    if (pair) { loc = st.get(pair.localCandidateId); rem = st.get(pair.remoteCandidateId); }
    return {frames, local: loc ? loc.address + ':' + loc.port : '', remote: rem ? rem.address + ':' + rem.port : ''};
  };
})().catch(e => { window.err = String(e); });
</script>`

// loopbackCandidatesOnly drops a=candidate lines for other addresses.
func loopbackCandidatesOnly(sdp string) string {
	var out []string
	for _, l := range strings.SplitAfter(sdp, "\n") {
		if strings.HasPrefix(l, "a=candidate:") {
			f := strings.Fields(l)
			if len(f) < 5 || f[4] != "127.0.0.1" {
				continue
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}
