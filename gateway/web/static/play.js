// play.js: one video element playing one stream path: WebRTC through WHEP
// first (lowest latency), LL-HLS through hls.js when WebRTC fails, started
// over by itself when the stream dies. The player page and every wall tile
// use it. SkyPlay.create({...}) returns {stop, stats}; onStatus hears
// {mode, state, reason} whenever they change (state: connecting, playing,
// error), stats() gives {fps, bitrate, stalled, latency} measured over the
// last second.
'use strict';
(() => {
  const ANSWER_TIMEOUT = 10000; // a DJI video may be started on demand first
  const DJI_ANSWER_TIMEOUT = 45000; // ...which can take a dock 20 s and more
  const FRAMES_TIMEOUT = 5000;
  const GATHER_TIMEOUT = 2000;
  const RETRY_AFTER = 3000;
  const STALL_AFTER = 6000; // longer than a publisher's usual reconnect
  const STALL_SHOWN = 2000; // the stall badge appears after this

  class Fail extends Error {}
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

  // errorText is the API's message, shortened: the page shows one line.
  const errorText = async (res) => {
    try {
      const j = await res.json();
      if (j && j.error && j.error.message) {
        const m = j.error.message;
        return ': ' + (m.length > 120 ? m.slice(0, 117) + '…' : m);
      }
    } catch (e) { /* not the API's JSON */ }
    return '';
  };

  const inbound = async (pc) => {
    const out = { frames: 0, bytes: 0, jbDelay: 0, jbCount: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.bytes += s.bytesReceived || 0;
        if (s.kind === 'video') {
          out.frames += s.framesDecoded || 0;
          out.jbDelay += s.jitterBufferDelay || 0;
          out.jbCount += s.jitterBufferEmittedCount || 0;
        }
      }
    });
    return out;
  };

  const create = (o) => {
    const video = o.video;
    const base = new URL(o.base, location.href);
    const search = o.query || '';
    const whepURL = new URL('whep' + search, base).href;
    const hlsURL = new URL('index.m3u8' + search, base).href;
    const answerTimeout = o.dji ? DJI_ANSWER_TIMEOUT : ANSWER_TIMEOUT;
    const st = { mode: 'webrtc', state: 'connecting', reason: '' };
    const show = (mode, state, reason) => {
      Object.assign(st, { mode, state, reason });
      if (o.onStatus) o.onStatus(Object.assign({}, st));
    };
    let webrtc = null; // {pc, location}
    let hls = null;
    let hlsBytes = 0;
    let stopped = false;
    const stats = { fps: 0, bitrate: 0, stalled: false, latency: 0 };

    const waitFrames = async (pc) => {
      const end = Date.now() + FRAMES_TIMEOUT;
      while (Date.now() < end) {
        if (pc.connectionState === 'failed') throw new Fail('the WebRTC connection failed (ICE)');
        if ((await inbound(pc)).frames > 0) return;
        await sleep(250);
      }
      throw new Fail(`no video frames within ${FRAMES_TIMEOUT / 1000} s`);
    };

    const startWebRTC = async () => {
      if (o.bframes) throw new Fail('the stream has B-frames, which WebRTC cannot carry');
      if (!window.RTCPeerConnection) throw new Fail('this browser has no WebRTC');
      if (o.codec === 'h265' && !canReceive('video/H265')) {
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
      const timer = setTimeout(() => abort.abort(), answerTimeout);
      let res;
      try {
        res = await fetch(whepURL, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp' },
          body: pc.localDescription.sdp,
          signal: abort.signal,
        });
      } catch (e) {
        throw new Fail(abort.signal.aborted ? `no WHEP answer within ${answerTimeout / 1000} s` : 'the WHEP request failed');
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
      show('webrtc', 'playing', '');
      watch(pc);
    };

    // watch notices a session that died: ICE failed or stayed
    // disconnected, or no frame came for STALL_AFTER (the stream ended:
    // Chrome alone takes 15 s or more to call the connection failed). It
    // starts over from WebRTC.
    const watch = async (pc) => {
      let disconnected = 0;
      while (webrtc && webrtc.pc === pc) {
        await sleep(1000);
        if (!webrtc || webrtc.pc !== pc) return;
        const state = pc.connectionState;
        disconnected = state === 'disconnected' ? disconnected + 1 : 0;
        if (state === 'failed' || state === 'closed' || disconnected >= 3 || Date.now() - lastFrameAt > STALL_AFTER) {
          stopWebRTC();
          show('webrtc', 'connecting', '');
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

    // hlsError turns a fatal hls.js error into words and says what to
    // retry: 'again' from WebRTC (no stream yet: when it comes, WebRTC may
    // work), 'hls' with LL-HLS only, '' nothing (the browser lacks the
    // codec).
    const hlsError = (data) => {
      if (data.details === 'manifestIncompatibleCodecsError' || data.details === 'bufferAddCodecError') {
        return ["this browser cannot decode the stream's codec", ''];
      }
      const code = data.response && data.response.code;
      if (code === 404) return ['no stream on this path (404)', 'again'];
      // A token does not change without a reload: no retry.
      if (code === 401) return ['not authorized: a token is required (open the page with ?jwt=TOKEN)', ''];
      if (code === 403) return ['not authorized: the token does not allow this path', ''];
      return [data.details + (code ? ` (HTTP ${code})` : ''), 'hls'];
    };

    const startHLS = (reason) => {
      show('hls', 'connecting', reason);
      if (window.Hls && Hls.isSupported()) {
        const hl = hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
        hl.on(Hls.Events.ERROR, (_, data) => {
          if (!data.fatal || hls !== hl) return;
          hl.destroy();
          hls = null;
          const [detail, retry] = hlsError(data);
          show('hls', 'error', reason);
          st.hlsError = detail;
          st.retrying = !!retry;
          st.denied = !!data.response && (data.response.code === 401 || data.response.code === 403);
          if (o.onStatus) o.onStatus(Object.assign({}, st));
          if (retry) {
            setTimeout(() => {
              if (stopped || hls || st.state !== 'error') return;
              if (retry === 'again') start(); else startHLS(reason);
            }, RETRY_AFTER);
          }
        });
        const count = (_, data) => {
          const s = data && (data.frag || data.part) && (data.frag || data.part).stats;
          if (s) hlsBytes += s.total || s.loaded || 0;
        };
        hl.on(Hls.Events.FRAG_LOADED, count);
        hl.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
        hl.loadSource(hlsURL);
        hl.attachMedia(video);
      } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
        video.src = hlsURL; // Safari plays HLS natively
        video.play().catch(() => {});
      } else {
        st.hlsError = 'this browser cannot play HLS either';
        show('hls', 'error', reason);
      }
    };

    const onPlaying = () => {
      if (st.mode === 'hls' && !stopped) { delete st.hlsError; show('hls', 'playing', st.reason); }
    };
    video.addEventListener('playing', onPlaying);

    // Stats every second: frames decoded and bytes received, from
    // getStats for WebRTC and from the video element and hls.js for HLS.
    let lastFrames = 0;
    let decoded = 0; // frames since create(), across restarts
    let lastBytes = 0;
    let lastFrameAt = Date.now();
    let lastAt = performance.now();
    const sampler = setInterval(async () => {
      const now = performance.now();
      const dt = (now - lastAt) / 1000;
      lastAt = now;
      let frames = 0;
      let bytes = 0;
      if (webrtc) {
        const s = await inbound(webrtc.pc).catch(() => null);
        if (!s) return;
        frames = s.frames;
        bytes = s.bytes;
        stats.latency = s.jbCount ? s.jbDelay / s.jbCount : 0;
      } else {
        const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
        frames = q ? q.totalVideoFrames : 0;
        bytes = hlsBytes;
        stats.latency = hls && hls.latency ? hls.latency : 0;
      }
      // The element's count can start over while it plays: WebKitGTK
      // restarts it at every playback-rate change, which hls.js makes
      // to catch up with the live edge. Frames counted since are new.
      const df = frames >= lastFrames ? frames - lastFrames : frames;
      decoded += df;
      const db = bytes - lastBytes;
      lastFrames = frames;
      lastBytes = bytes;
      stats.fps = df > 0 && dt > 0 ? df / dt : 0;
      stats.bitrate = db > 0 && dt > 0 ? (db * 8) / dt : 0;
      if (df > 0) lastFrameAt = Date.now();
      stats.stalled = st.state === 'playing' && Date.now() - lastFrameAt > STALL_SHOWN;
      stats.frames = decoded;
      if (o.onStats) o.onStats(Object.assign({}, stats));
    }, 1000);

    const reset = () => {
      lastFrames = 0;
      lastBytes = 0;
      hlsBytes = 0;
      lastFrameAt = Date.now();
    };

    async function start() {
      if (stopped) return;
      reset();
      delete st.hlsError;
      show('webrtc', 'connecting', '');
      try {
        await startWebRTC();
      } catch (e) {
        stopWebRTC();
        if (stopped) return;
        reset();
        startHLS(e instanceof Fail ? e.message : `unexpected error: ${e.message}`);
      }
    }

    const stop = () => {
      stopped = true;
      clearInterval(sampler);
      video.removeEventListener('playing', onPlaying);
      stopWebRTC();
      if (hls) { hls.destroy(); hls = null; }
      video.removeAttribute('src');
    };
    start();
    return { stop, stats: () => Object.assign({}, stats), status: () => Object.assign({}, st) };
  };

  window.SkyPlay = { create };
})();
