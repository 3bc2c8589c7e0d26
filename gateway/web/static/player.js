// The player page: one stream, WebRTC first and LL-HLS when WebRTC fails
// (play.js), with the DJI live session's step while a device starts, the
// measured fps and bitrate, and the aircraft's telemetry over the picture.
// window.skyrelay = {mode, state, reason, step} says the same to scripts.
'use strict';
(() => {
  const { t, h } = window.Sky;
  Sky.header('');
  Sky.translate();
  const main = document.getElementById('player');
  const video = document.getElementById('video');
  const statusEl = document.getElementById('status');
  const detailEl = document.getElementById('detail');
  const devErrEl = document.getElementById('device-error');
  const statsEl = document.getElementById('stats');
  const badge = document.getElementById('badge');
  const path = main.dataset.path;
  const dji = main.dataset.dji === 'true';

  const sky = window.skyrelay = { mode: 'webrtc', state: 'connecting', reason: '', step: '' };
  let session = null; // the DJI live session, while it is being started

  const render = () => {
    let text;
    const derr = session && session.error ? Sky.deviceErrorText(session.error) : '';
    if (sky.state === 'playing') {
      text = sky.mode === 'webrtc' ? t('playingWebRTC') : t('playingHLS');
    } else if (sky.state === 'error' && derr) {
      // The device's own words say why better than either transport.
      text = derr;
    } else if (sky.state === 'error') {
      text = sky.hlsError ? `LL-HLS: ${sky.hlsError}` : t('reconnecting');
    } else if (session && session.state && session.state !== 'playable') {
      // The session's step says more than "connecting" during a slow start.
      text = t('step_' + session.state);
    } else {
      text = t('connecting');
    }
    statusEl.textContent = text;
    statusEl.dataset.state = sky.state;
    const detail = sky.reason ? `${t('webrtcFailed')}: ${sky.reason}` : '';
    detailEl.textContent = detail;
    detailEl.hidden = !detail;
    const showDerr = derr && text !== derr;
    devErrEl.textContent = showDerr ? derr : '';
    devErrEl.hidden = !showDerr;
  };
  document.addEventListener('sky-lang', render);

  // watchSession follows the DJI session while the player waits: asked
  // the device, device answered, media arriving; a refusal shows the
  // decoded device error on its own line.
  let watching = false;
  const watchSession = async () => {
    if (watching) return;
    watching = true;
    try {
      while (sky.state !== 'playing') {
        try {
          // The list answers 200 also before the session exists.
          const all = (await Sky.api('GET', '/api/v1/live')).items || [];
          session = all.find((x) => x.video_id === path) || null;
          sky.step = session ? session.state || '' : '';
        } catch (e) {
          if (e.status === 403 || e.status === 401) break; // no API for this browser
          session = null;
        }
        render();
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      watching = false;
      if (sky.state === 'playing') { session = null; render(); }
    }
  };

  const player = SkyPlay.create({
    video,
    base: location.pathname,
    // The page's own query (read credentials) goes on to WHEP and LL-HLS,
    // with the page's token as jwt= however the page learnt it.
    query: Sky.withToken(location.search.replace(/([?&])(lang|token)=[^&]*/g, '$1').replace(/[?&]+$/, '')),
    codec: main.dataset.videoCodec,
    bframes: main.dataset.bframes === 'true',
    dji,
    onStatus: (s) => {
      Object.assign(sky, { mode: s.mode, state: s.state, reason: s.reason, hlsError: s.hlsError || '' });
      render();
      if (s.state !== 'playing' && dji) watchSession();
    },
    onStats: (s) => {
      statsEl.textContent = s.fps > 0 || s.bitrate > 0 ? `${s.fps.toFixed(0)} fps · ${Sky.bitrate(s.bitrate)}` : '';
      badge.textContent = s.stalled ? t('stalled') : '';
      badge.hidden = !s.stalled;
    },
  });

  const overlay = SkyOverlay.attach(document.getElementById('screen'), path, () => player.stats().latency);
  const osdBtn = document.getElementById('osd-toggle');
  osdBtn.setAttribute('aria-pressed', 'true');
  osdBtn.addEventListener('click', () => osdBtn.setAttribute('aria-pressed', String(overlay.toggle())));
  document.getElementById('fs').addEventListener('click', () => {
    Sky.fullscreen(document.getElementById('screen'));
  });
  window.addEventListener('pagehide', () => player.stop());
  if (dji) {
    watchSession();
    // The camera by name over its raw video_id, when the API answers.
    Sky.api('GET', '/api/v1/devices').then((r) => {
      for (const d of (r && r.items) || []) {
        const c = (d.cameras || []).find((x) => x.video_id === path);
        if (c) {
          const h1 = document.querySelector('h1.path');
          h1.replaceChildren(`${Sky.cameraName(c)} · ${Sky.modelName(d)} `, h('small.muted', {}, path));
        }
      }
    }).catch(() => {});
  }
  render();
})();
