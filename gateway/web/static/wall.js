// wall.js: the video wall. /wall?paths=P1,P2,...&layout=1|4|9|16&osd=1:
// everything is in the URL, so a display PC opens it as it is. Each tile
// plays its path with play.js (WebRTC first, LL-HLS when WebRTC fails,
// started over by itself) and shows its fps, bitrate and a stall badge.
'use strict';
(() => {
  const { t, h } = window.Sky;
  Sky.header('wall');
  Sky.translate();
  const wall = document.getElementById('wall');
  const bar = document.getElementById('wall-bar');
  const q = new URLSearchParams(location.search);
  const paths = (q.get('paths') || '').split(',').map((p) => p.trim().replace(/^\/+|\/+$/g, '')).filter(Boolean).slice(0, 16);
  const fit = (n) => (n <= 1 ? 1 : n <= 4 ? 4 : n <= 9 ? 9 : 16);
  let layout = [1, 4, 9, 16].includes(+q.get('layout')) ? +q.get('layout') : fit(paths.length);
  let osd = q.get('osd') === '1';
  // A read credential in the wall's query goes to every tile.
  const pass = new URLSearchParams();
  for (const k of ['user', 'pass']) if (q.get(k)) pass.set(k, q.get(k));
  if (Sky.jwt) pass.set('jwt', Sky.jwt);
  const passQuery = pass.toString() ? '?' + pass : '';

  const tiles = [];
  window.skyWall = { tiles };

  const setURL = () => {
    q.set('layout', layout);
    if (osd) q.set('osd', '1'); else q.delete('osd');
    history.replaceState(null, '', '/wall?' + q.toString().replace(/%2C/g, ',').replace(/%2F/g, '/'));
  };

  const makeTile = (path) => {
    const video = h('video', { muted: true, autoplay: true, playsinline: true });
    video.muted = true;
    const label = h('span.tile-label', {}, path);
    const badge = h('span.tile-badge', { 'data-state': 'connecting' }, t('connecting'));
    const box = h('div.tile', { dataset: { path } }, video, label, badge);
    const tile = { path, mode: '', state: 'connecting', frames: 0, fps: 0, bitrate: 0, stalled: false, reason: '' };
    const paint = () => {
      let text;
      if (tile.state === 'playing') {
        text = `${tile.mode === 'webrtc' ? 'WebRTC' : 'LL-HLS'} · ${tile.fps.toFixed(0)} fps · ${Sky.bitrate(tile.bitrate)}`;
        if (tile.stalled) text = `${t('stalled')} · ${text}`;
      } else if (tile.state === 'error') {
        text = tile.hlsError ? `${tile.hlsError}${tile.retrying ? ' · ' + t('reconnecting') : ''}` : t('reconnecting');
      } else {
        text = t('connecting');
      }
      badge.textContent = text;
      badge.dataset.state = tile.stalled ? 'stalled' : tile.state;
      badge.title = tile.reason ? `${t('webrtcFailed')}: ${tile.reason}` : '';
    };
    tile.player = SkyPlay.create({
      video, base: '/' + path + '/', query: passQuery,
      onStatus: (s) => {
        Object.assign(tile, { mode: s.mode, state: s.state, reason: s.reason, hlsError: s.hlsError || '', retrying: !!s.retrying });
        // A path the token may not read leaves the page's telemetry stream,
        // which would otherwise be refused for every tile.
        if (s.denied && tile.overlay) tile.overlay.stop();
        paint();
      },
      onStats: (s) => { Object.assign(tile, { fps: s.fps, bitrate: s.bitrate, stalled: s.stalled, frames: s.frames || 0 }); paint(); },
    });
    tile.overlay = SkyOverlay.attach(box, path, () => tile.player.stats().latency);
    tile.overlay.toggle(osd);
    tile.box = box;
    tile.label = label;
    box.addEventListener('dblclick', () => {
      Sky.fullscreen(box);
    });
    return tile;
  };

  const renderBar = () => {
    bar.replaceChildren(
      ...[1, 4, 9, 16].map((n) => h('button', { type: 'button', 'aria-pressed': String(n === layout), onclick: () => { layout = n; setURL(); grid(); renderBar(); } }, `${n}`)),
      h('span.muted.small', {}, t('tiles')),
      h('span.spacer'),
      h('button', { type: 'button', 'aria-pressed': String(osd), onclick: () => { osd = !osd; tiles.forEach((x) => x.overlay.toggle(osd)); setURL(); renderBar(); } }, t('osd')),
      h('button', { type: 'button', onclick: () => Sky.fullscreen(document.documentElement) }, t('fullscreen')));
  };

  // grid lays out `layout` cells: playing tiles first, then empty ones.
  // Paths beyond the layout stop playing (a 4-tile wall of 9 paths shows
  // the first four).
  const grid = () => {
    const side = Math.sqrt(layout);
    wall.style.setProperty('--side', side);
    const cells = [];
    paths.forEach((p, i) => {
      if (i < layout) {
        if (!tiles[i]) tiles[i] = makeTile(p);
        cells.push(tiles[i].box);
      } else if (tiles[i]) {
        tiles[i].player.stop();
        tiles[i].overlay.stop();
        tiles[i] = undefined;
      }
    });
    tiles.length = Math.min(tiles.length, layout);
    for (let i = cells.length; i < layout; i++) cells.push(h('div.tile.empty', {}, h('span', {}, paths.length ? t('emptyTile') : t('wallEmpty'))));
    wall.replaceChildren(...cells);
  };

  // DJI tiles are named by camera and device, when this browser may read
  // the API (the path stays in the tooltip).
  const nameTiles = async () => {
    let list;
    try { list = (await Sky.api('GET', '/api/v1/devices')).items || []; } catch (e) { return; }
    const names = new Map(list.flatMap((d) => (d.cameras || []).map((c) => [c.video_id, `${Sky.cameraName(c)} · ${Sky.modelName(d)}`])));
    for (const x of tiles) {
      if (x && names.has(x.path)) { x.label.textContent = names.get(x.path); x.label.title = x.path; }
    }
  };

  renderBar();
  grid();
  nameTiles();
  document.addEventListener('sky-lang', renderBar);
  window.addEventListener('pagehide', () => tiles.forEach((x) => x && x.player.stop()));
})();
