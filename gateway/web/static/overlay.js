// overlay.js: the aircraft's telemetry drawn over a video (player page and
// wall tiles): height, speed, heading, battery, coordinates.
//
// The figures come from GET /api/v1/telemetry (Server-Sent Events, one
// connection per page whatever the number of tiles). Each sample is kept
// with the time it arrived, and the overlay shows the newest sample that
// is at least as old as the video's own playback delay (WebRTC's jitter
// buffer, or hls.js's latency): the numbers change when the picture they
// belong to is on screen, not a second earlier.
'use strict';
(() => {
  const { h, t, num } = window.Sky;
  const KEEP_MS = 30000;
  const samples = new Map(); // sn -> [{at, osd, gateway}]
  const gateways = new Map(); // sn -> gateway sn
  // The stream asks for the paths shown (?path=): the server sends the
  // devices that film them, which a token that may only read those paths
  // may see. attach and stop change the set; the stream is reopened once
  // after a burst of them (a wall attaching every tile).
  const shown = new Map(); // path -> overlays attached
  let stream = null;
  let streamKey = '';
  let syncing = false;

  const show = (path, n) => {
    const c = (shown.get(path) || 0) + n;
    if (c > 0) shown.set(path, c); else shown.delete(path);
    if (syncing) return;
    syncing = true;
    setTimeout(syncStream, 0);
  };

  const syncStream = () => {
    syncing = false;
    const key = [...shown.keys()].sort().map((p) => 'path=' + encodeURIComponent(p).replace(/%2F/g, '/')).join('&');
    if (key === streamKey) return;
    if (stream) stream();
    stream = null;
    streamKey = key;
    if (!key) return;
    stream = Sky.events('/api/v1/telemetry?' + key, (type, d) => {
      if (type !== 'osd' || !d.sn || !d.osd) return;
      gateways.set(d.sn, d.gateway);
      const list = samples.get(d.sn) || [];
      const now = Date.now();
      list.push({ at: now, osd: d.osd });
      while (list.length > 2 && now - list[0].at > KEEP_MS) list.shift();
      samples.set(d.sn, list);
    });
  };

  // deviceFor picks whose telemetry a path shows: the device that owns the
  // camera (the first segment of a DJI video_id), or for a Pilot push
  // (pilot/RCSN) the aircraft flying under that controller.
  const deviceFor = (path) => {
    const segs = path.split('/');
    if (segs[0] === 'pilot' && segs[1]) {
      for (const [sn, gw] of gateways) if (gw === segs[1] && sn !== gw) return sn;
      return segs[1];
    }
    return segs[0];
  };

  const at = (list, delayMs) => {
    if (!list || !list.length) return null;
    const cut = Date.now() - delayMs;
    for (let i = list.length - 1; i >= 0; i--) if (list[i].at <= cut) return list[i].osd;
    return list[0].osd;
  };

  const figures = (o) => {
    const rows = [];
    const height = typeof o.elevation === 'number' ? o.elevation : o.height;
    if (typeof height === 'number') rows.push([t('altitude'), num(height, 1) + ' m']);
    if (typeof o.horizontal_speed === 'number') rows.push([t('speed'), num(o.horizontal_speed, 1) + ' m/s']);
    if (typeof o.vertical_speed === 'number' && o.vertical_speed !== 0) rows.push([t('vspeed'), num(o.vertical_speed, 1) + ' m/s']);
    if (typeof o.attitude_head === 'number') rows.push([t('heading'), num((o.attitude_head + 360) % 360, 0) + '°']);
    const bat = (o.battery && o.battery.capacity_percent) ?? (o.drone_charge_state && o.drone_charge_state.capacity_percent) ?? o.capacity_percent;
    if (typeof bat === 'number') rows.push([t('battery'), bat + ' %']);
    if (typeof o.latitude === 'number' && (o.latitude || o.longitude)) {
      rows.push(['', `${o.latitude.toFixed(6)}, ${o.longitude.toFixed(6)}`]);
    }
    return rows;
  };

  // attach draws the overlay of path into box; delay() is the video's
  // playback delay in seconds. Returns {stop, toggle, visible}.
  const attach = (box, path, delay) => {
    show(path, 1);
    const el = h('div.osd', { 'aria-live': 'off' });
    box.append(el);
    let visible = true;
    let last = '';
    const draw = () => {
      if (!visible) return;
      const osd = at(samples.get(deviceFor(path)), Math.max(0, (delay() || 0) * 1000));
      if (!osd) { el.hidden = true; return; }
      const rows = figures(osd);
      const key = JSON.stringify(rows);
      if (key === last) return;
      last = key;
      el.hidden = rows.length === 0;
      el.replaceChildren(...rows.map(([k, v]) => h('div', {}, k ? h('b', {}, k) : null, v)));
    };
    let timer = setInterval(draw, 250);
    return {
      stop: () => { if (timer === null) return; clearInterval(timer); timer = null; el.remove(); show(path, -1); },
      toggle: (on) => { visible = on === undefined ? !visible : on; el.hidden = !visible; last = ''; draw(); return visible; },
      get visible() { return visible; },
    };
  };

  window.SkyOverlay = { attach, deviceFor };
})();
