// Skyrelay's player: WebRTC through WHEP first (lowest latency), LL-HLS
// through hls.js when WebRTC fails. The page says which one plays and why;
// window.skyrelay = {mode, state, reason} says the same to scripts and tests.
'use strict';
(() => {
  const ANSWER_TIMEOUT = 10000; // a DJI video may be started on demand first
  const FRAMES_TIMEOUT = 5000;
  const GATHER_TIMEOUT = 2000;
  const RETRY_AFTER = 3000;
  const STALL_AFTER = 6000; // longer than a publisher's usual reconnect

  const main = document.getElementById('player');
  const video = document.getElementById('video');
  const statusEl = document.getElementById('status');
  // A read credential in the page's query goes along with every request.
  const whepURL = new URL(main.dataset.whep + location.search, location.href).href;
  const hlsURL = new URL(main.dataset.hls + location.search, location.href).href;

  const sky = window.skyrelay = { mode: 'webrtc', state: 'connecting', reason: '' };
  const show = (mode, state, reason, text) => {
    Object.assign(sky, { mode, state, reason });
    statusEl.textContent = text;
    statusEl.dataset.state = state;
  };

  // Fail is a reason to leave WebRTC that the page can show as it is.
  class Fail extends Error {}
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  let webrtc = null; // {pc, location}
  let hls = null;

  const canReceive = (mime) => {
    const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities &&
      RTCRtpReceiver.getCapabilities('video');
    return !!caps && caps.codecs.some((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
  };

  // Non-trickle WHEP: send the offer once ICE gathering is done (or late).
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') { resolve(); return; }
    const timer = setTimeout(resolve, GATHER_TIMEOUT);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });

  const errorText = async (res) => {
    try {
      const j = await res.json();
      if (j && j.error && j.error.message) return ': ' + j.error.message;
    } catch (e) { /* not the API's JSON */ }
    return '';
  };

  const framesDecoded = async (pc) => {
    let n = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0;
    });
    return n;
  };

  // A connected peer that decodes nothing (a codec the browser lacks, ICE
  // through a wrong address) is a failure too.
  const waitFrames = async (pc) => {
    const end = Date.now() + FRAMES_TIMEOUT;
    while (Date.now() < end) {
      if (pc.connectionState === 'failed') throw new Fail('the WebRTC connection failed (ICE)');
      if (await framesDecoded(pc) > 0) return;
      await sleep(250);
    }
    throw new Fail(`no video frames within ${FRAMES_TIMEOUT / 1000} s`);
  };

  const startWebRTC = async () => {
    if (main.dataset.bframes === 'true') throw new Fail('the stream has B-frames, which WebRTC cannot carry');
    if (!window.RTCPeerConnection) throw new Fail('this browser has no WebRTC');
    if (main.dataset.videoCodec === 'h265' && !canReceive('video/H265')) {
      throw new Fail('this browser cannot decode H.265 over WebRTC');
    }
    const pc = new RTCPeerConnection();
    webrtc = { pc, location: '' };
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const media = new MediaStream();
    pc.ontrack = (ev) => {
      media.addTrack(ev.track);
      if (video.srcObject !== media) video.srcObject = media;
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);

    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ANSWER_TIMEOUT);
    let res;
    try {
      res = await fetch(whepURL, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp' },
        body: pc.localDescription.sdp,
        signal: abort.signal,
      });
    } catch (e) {
      throw new Fail(abort.signal.aborted ? `no WHEP answer within ${ANSWER_TIMEOUT / 1000} s` : 'the WHEP request failed');
    } finally {
      clearTimeout(timer);
    }
    if (res.status !== 201) throw new Fail(`WHEP answered ${res.status}${await errorText(res)}`);
    const loc = res.headers.get('Location');
    if (loc) webrtc.location = new URL(loc, whepURL).href;
    const sdp = await res.text();
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (e) {
      throw new Fail('the WHEP answer was refused: ' + e.message);
    }
    await waitFrames(pc);
    video.play().catch(() => {});
    show('webrtc', 'playing', '', 'playing WebRTC');
    watch(pc);
  };

  // watch notices a session that died: ICE failed or stayed disconnected,
  // or no frame came for STALL_AFTER (the stream ended: Chrome alone takes
  // 15 s or more to call the connection failed). It starts over from
  // WebRTC.
  const watch = async (pc) => {
    let frames = 0;
    let lastNew = Date.now();
    let disconnected = 0;
    while (webrtc && webrtc.pc === pc) {
      await sleep(1000);
      if (!webrtc || webrtc.pc !== pc) return;
      const state = pc.connectionState;
      disconnected = state === 'disconnected' ? disconnected + 1 : 0;
      const n = await framesDecoded(pc).catch(() => frames);
      if (n > frames) { frames = n; lastNew = Date.now(); }
      if (state === 'failed' || state === 'closed' || disconnected >= 3 || Date.now() - lastNew > STALL_AFTER) {
        stopWebRTC();
        show('webrtc', 'connecting', '', 'WebRTC connection lost, reconnecting…');
        setTimeout(start, 1000);
        return;
      }
    }
  };

  const stopWebRTC = () => {
    if (!webrtc) return;
    const { pc, location: loc } = webrtc;
    webrtc = null;
    pc.close();
    if (loc) fetch(loc, { method: 'DELETE', keepalive: true }).catch(() => {});
    video.srcObject = null;
  };

  // hlsError turns a fatal hls.js error into words and says what to retry:
  // 'again' from WebRTC (no stream yet: when it comes, WebRTC may work),
  // 'hls' with LL-HLS only, '' nothing (the browser lacks the codec).
  const hlsError = (data) => {
    if (data.details === 'manifestIncompatibleCodecsError' || data.details === 'bufferAddCodecError') {
      return ["this browser cannot decode the stream's codec", ''];
    }
    const code = data.response && data.response.code;
    if (code === 404) return ['no stream on this path (404)', 'again'];
    return [data.details + (code ? ` (HTTP ${code})` : ''), 'hls'];
  };

  const startHLS = (reason) => {
    const prefix = `WebRTC failed: ${reason}, `;
    show('hls', 'connecting', reason, prefix + 'connecting LL-HLS…');
    if (window.Hls && Hls.isSupported()) {
      const h = hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
      h.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal || hls !== h) return;
        h.destroy();
        hls = null;
        const [detail, retry] = hlsError(data);
        show('hls', 'error', reason, `${prefix}LL-HLS failed: ${detail}${retry ? ', retrying…' : ''}`);
        if (retry) {
          setTimeout(() => {
            if (hls || sky.state !== 'error') return;
            if (retry === 'again') start(); else startHLS(reason);
          }, RETRY_AFTER);
        }
      });
      h.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
      h.loadSource(hlsURL);
      h.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = hlsURL; // Safari plays HLS natively
      video.play().catch(() => {});
    } else {
      show('hls', 'error', reason, prefix + 'and this browser cannot play HLS either');
    }
  };

  video.addEventListener('playing', () => {
    if (sky.mode === 'hls') show('hls', 'playing', sky.reason, `WebRTC failed: ${sky.reason}, playing LL-HLS`);
  });

  async function start() {
    show('webrtc', 'connecting', '', 'connecting WebRTC…');
    try {
      await startWebRTC();
    } catch (e) {
      stopWebRTC();
      startHLS(e instanceof Fail ? e.message : `unexpected error: ${e.message}`);
    }
  }

  window.addEventListener('pagehide', () => {
    stopWebRTC();
    if (hls) hls.destroy();
  });
  start();
})();
