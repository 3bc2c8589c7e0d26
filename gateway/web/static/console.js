// console.js: the operator's console. It reads the API once, then follows
// /api/v1/events (devices, state, live sessions, streams) and
// /api/v1/telemetry (OSD) and redraws only what changed: no page reloads.
'use strict';
(() => {
  const { t, h, api } = window.Sky;
  Sky.header('console');
  Sky.translate();

  const main = document.getElementById('console');
  const devicesEl = document.getElementById('devices');
  const streamsEl = document.getElementById('streams');
  const layoutsEl = document.getElementById('layouts');
  const banner = document.getElementById('banner');
  const hdrStatus = document.getElementById('hdr-status');

  const state = {
    devices: [], streams: [], gb: [], sessions: new Map(), osd: new Map(), tracks: new Map(),
    pending: new Map(), // video_id -> 'starting' | 'stopping'
    errors: new Map(), // video_id -> error object from the last command
    wall: [], // paths picked for a wall layout
    recorded: new Set(), // paths with recordings (GET /api/v1/recordings)
    apiError: null,
  };

  // ---- loading ------------------------------------------------------
  const showAPIError = (e) => {
    state.apiError = e;
    if (!e) { banner.hidden = true; return; }
    banner.hidden = false;
    banner.replaceChildren(h('span', {}, Sky.refusal(e) || t('eventsAuth', e.message)), ' ',
      h('button', { type: 'button', onclick: () => { const v = prompt(t('tokenPrompt'), Sky.token); if (v !== null) { Sky.setToken(v); location.reload(); } } }, t('setToken')));
  };
  const load = async (what) => {
    try {
      if (what === 'devices') state.devices = (await api('GET', '/api/v1/devices')).items || [];
      if (what === 'streams') state.streams = (await api('GET', '/api/v1/streams')).items || [];
      if (what === 'recorded') state.recorded = new Set(((await api('GET', '/api/v1/recordings')).items || []).map((r) => r.path));
      if (what === 'gb') state.gb = (await api('GET', '/api/v1/gb28181/devices')).items || [];
      if (what === 'sessions') {
        const items = (await api('GET', '/api/v1/live')).items || [];
        state.sessions = new Map(items.map((s) => [s.video_id, s]));
      }
      if (state.apiError) showAPIError(null);
    } catch (e) {
      if ((e.status === 404 || e.status === 503) && what !== 'streams') return; // no control plane in this build
      if (e.status === 401 || e.status === 403) showAPIError(e);
    }
  };
  // Several events in a burst make one reload.
  const timers = {};
  const reload = (what) => {
    clearTimeout(timers[what]);
    timers[what] = setTimeout(async () => { await load(what); render(); }, 250);
  };

  // ---- devices ------------------------------------------------------
  const pill = (on) => h('span.pill' + (on ? '.on' : '.off'), {}, on ? t('online') : t('offline'));
  const fig = (label, value, cls) => (value === '' || value === undefined || value === null ? null :
    h('span.fig' + (cls ? '.' + cls : ''), {}, h('small', {}, label), value));

  const osdOf = (sn, fallback) => {
    const o = state.osd.get(sn);
    if (o) return o;
    if (!fallback) return null;
    try { return typeof fallback === 'string' ? JSON.parse(fallback) : fallback; } catch (e) { return null; }
  };

  const figures = (d, o) => {
    if (!o) return [];
    const out = [];
    const bat = (o.battery && o.battery.capacity_percent) ?? (o.drone_charge_state && o.drone_charge_state.capacity_percent) ?? o.capacity_percent;
    if (typeof bat === 'number') out.push(fig(t('battery'), bat + ' %', bat < 25 ? 'bad' : bat < 40 ? 'warn' : ''));
    if (d.domain === 0) {
      const el = typeof o.elevation === 'number' ? o.elevation : null;
      if (el !== null) out.push(fig(t('altitude'), Sky.num(el, 1) + ' m'));
      if (typeof o.horizontal_speed === 'number') out.push(fig(t('speed'), Sky.num(o.horizontal_speed, 1) + ' m/s'));
      if (typeof o.attitude_head === 'number') out.push(fig(t('heading'), Sky.num((o.attitude_head + 360) % 360, 0) + '°'));
      if (o.position_state && typeof o.position_state.gps_number === 'number') out.push(fig(t('gps'), o.position_state.gps_number + (o.position_state.rtk_number ? ` · RTK ${o.position_state.rtk_number}` : '')));
    }
    if (o.mode_code !== undefined) out.push(fig(t(d.domain === 3 ? 'dockState' : 'mode'), Sky.modeName(d.domain, o.mode_code)));
    if (d.domain === 3) {
      if (o.drone_in_dock === 1) out.push(fig('', t('aircraftInDock')));
      if (typeof o.wind_speed === 'number') out.push(fig(t('wind'), Sky.num(o.wind_speed, 1) + ' m/s'));
      if (typeof o.environment_temperature === 'number') out.push(fig(t('temp'), Sky.num(o.environment_temperature, 0) + ' °C'));
    }
    if (typeof o.latitude === 'number' && (o.latitude || o.longitude)) {
      out.push(fig(t('position'), `${o.latitude.toFixed(5)}, ${o.longitude.toFixed(5)}`, 'pos'));
    }
    return out;
  };

  const liveStatusOf = (d, vid) => (d.live_status || []).find((l) => l.video_id === vid);
  const streamOf = (path) => state.streams.find((s) => s.path === path);
  const ACTIVE = ['sent', 'device_accepted', 'media_arriving', 'playable'];

  const cameraRow = (d, cam) => {
    const vid = cam.video_id;
    const ls = liveStatusOf(d, vid);
    const sess = state.sessions.get(vid);
    const stream = streamOf(vid);
    const pending = state.pending.get(vid);
    const sessActive = sess && ACTIVE.includes(sess.state);
    const live = (ls && ls.status === 1) || (stream && stream.ready) || (sess && sess.state === 'playable');
    let status;
    if (pending === 'stopping') status = h('span.step', {}, t('stopping'));
    else if (sessActive && sess.state !== 'playable') status = h('span.step', {}, t('step_' + sess.state));
    else if (pending === 'starting') status = h('span.step', {}, t('starting'));
    else if (live) status = h('span.pill.live', {}, t('live'));
    else status = h('span.muted', {}, d.online ? t('idle') : t('offline'));

    const lens = (ls && ls.video_type) || cam.video_type || '';
    const lenses = cam.switchable_video_types || [];
    const quality = sess ? sess.quality : ls ? ls.video_quality : 0;
    const qSel = h('select', { 'aria-label': t('quality'), disabled: !d.online || pending ? true : null,
      onchange: (e) => setQuality(vid, +e.target.value, live || sessActive) },
    [0, 1, 2, 3, 4].map((q) => h('option', { value: q, selected: q === quality ? true : null }, Sky.qualityName(q))));
    const lSel = lenses.length > 1 ? h('select', { 'aria-label': t('lens'), disabled: !(live || sessActive) || pending ? true : null,
      onchange: (e) => setLens(vid, e.target.value) },
    lenses.map((l) => h('option', { value: l, selected: l === lens ? true : null }, Sky.lensName(l)))) : null;
    const busy = !!pending || (sessActive && sess.state !== 'playable');
    const action = live || sessActive ?
      h('button.stop', { type: 'button', disabled: pending === 'stopping' ? true : null, onclick: () => stop(vid), 'data-act': 'stop' }, t('stop')) :
      h('button.start', { type: 'button', disabled: !d.online || busy ? true : null, onclick: () => start(vid, +qSel.value), 'data-act': 'start' }, t('start'));
    const err = state.errors.get(vid) || (sess && sess.state === 'failed' ? sess.error : null);
    const onWall = state.wall.includes(vid);
    return h('div.cam', { dataset: { video: vid, live: live ? '1' : '0', step: sess ? sess.state : '' } },
      h('div.cam-head', {},
        h('span.cam-name', { title: vid }, Sky.cameraName(cam), lens && lenses.length ? h('small', {}, ' · ' + Sky.lensName(lens)) : null),
        status),
      h('div.cam-ctl', {},
        lSel, qSel, action,
        h('a.button' + (d.online ? '' : '.disabled'), { href: Sky.withToken('/' + vid + '/'), target: '_blank', rel: 'noopener' }, t('play')),
        state.recorded.has(vid) ? h('a.button.rec-link', { href: Sky.withToken('/recordings/?path=' + encodeURIComponent(vid)) }, t('recordings')) : null,
        h('label.wallpick', { title: t('toWall') }, h('input', { type: 'checkbox', checked: onWall ? true : null, onchange: (e) => pickWall(vid, e.target.checked) }), t('toWall'))),
      err ? h('p.error', {}, Sky.deviceErrorText(err)) : null,
      h('div.vid', {}, vid));
  };

  const deviceCard = (d) => {
    const o = osdOf(d.sn, d.osd);
    const subs = (d.sub_devices || []).map((s) => {
      const so = osdOf(s.sn, s.osd);
      return h('div.sub', {},
        h('div.dev-head', {},
          h('span.model', {}, Sky.modelName(s)), h('span.sn', {}, s.sn), pill(s.online),
          !s.online ? h('span.muted.small', {}, t('lastSeen', Sky.ago(s.last_seen))) : null),
        h('div.figs', { dataset: { figs: s.sn } }, figures(s, so)));
    });
    const byOwner = new Map();
    for (const c of d.cameras || []) {
      if (!byOwner.has(c.device_sn)) byOwner.set(c.device_sn, []);
      byOwner.get(c.device_sn).push(c);
    }
    const cams = (d.cameras || []).map((c) => cameraRow(d, c));
    return h('article.device' + (d.online ? '' : '.is-off'), { dataset: { sn: d.sn } },
      h('div.dev-head', {},
        h('span.model', {}, Sky.modelName(d)), h('span.sn', {}, d.sn), pill(d.online),
        h('span.muted.small.seen', { dataset: { seen: d.last_seen } }, d.online ? '' : t('lastSeen', Sky.ago(d.last_seen)))),
      h('div.figs', { dataset: { figs: d.sn } }, figures(d, o)),
      subs,
      cams.length ? h('div.cams', {}, cams) : null);
  };

  const renderDevices = () => {
    if (!state.devices.length) {
      devicesEl.replaceChildren(h('p.empty', {}, t('noDevices')));
      return;
    }
    devicesEl.replaceChildren(...state.devices.map(deviceCard));
  };

  // ---- streams ------------------------------------------------------
  // sources names the paths whose origin the console knows, as [tag, what
  // films it]: a DJI camera (its video_id), a Pilot push from a remote
  // controller (pilot/RCSN: the aircraft flying under it), a GB28181
  // channel.
  const pilotName = (rc) => [...(rc.sub_devices || []).filter((s) => s.domain === 0).map(Sky.modelName), Sky.modelName(rc)].join(' · ');
  const sources = () => new Map([
    ...state.devices.flatMap((d) => (d.cameras || []).map((c) => [c.video_id, ['DJI', `${Sky.cameraName(c)} · ${Sky.modelName(d)}`]])),
    ...state.devices.filter((d) => d.domain === 2).map((d) => ['pilot/' + d.sn, ['Pilot', pilotName(d)]]),
    ...state.gb.flatMap((d) => (d.channels || []).map((c) => ['gb28181/' + d.device_id + '/' + c.channel_id,
      ['GB28181', `${c.name || c.channel_id} · ${d.name || d.model || d.device_id}`]])),
  ]);
  const renderStreams = () => {
    const known = sources();
    if (!state.streams.length) {
      const rtmp = main.dataset.rtmp;
      streamsEl.replaceChildren(h('div.empty', {},
        h('p', {}, t('noStreams')),
        h('pre', {}, h('code', {}, `ffmpeg -re -i clip.mp4 -c copy -f flv ${rtmp}/live/a`)),
        h('p', {}, t('thenOpen', '/live/a/'))));
      return;
    }
    streamsEl.replaceChildren(...state.streams.map((s) => {
      const readers = s.readers || [];
      const by = {};
      for (const r of readers) by[r.protocol] = (by[r.protocol] || 0) + 1;
      const tracks = (s.tracks || []).map((tr) => tr.codec + (tr.width ? ` ${tr.width}×${tr.height}` : '')).join(', ');
      const st = !s.online ? h('span.pill.off', {}, t('reconnecting')) : s.ready ? h('span.pill.live', {}, t('live')) : h('span.step', {}, t('connecting'));
      return h('div.stream', { dataset: { path: s.path } },
        h('div.cam-head', {},
          h('a.path', { href: Sky.withToken('/' + s.path + '/'), target: '_blank', rel: 'noopener' }, s.path),
          known.has(s.path) ? h('span.tag', { title: known.get(s.path)[1] }, known.get(s.path)[0]) : null, st),
        known.has(s.path) ? h('div.muted.small', {}, known.get(s.path)[1]) : null,
        h('div.meta', {},
          h('span', {}, `${s.source.protocol}${s.source.remote_addr ? ' · ' + s.source.remote_addr : ''}`),
          tracks ? h('span', {}, tracks) : null,
          h('span', { title: readers.map((r) => `${r.protocol} ${r.remote_addr}`).join('\n') },
            readers.length ? `${readers.length} ${t(readers.length === 1 ? 'reader' : 'readers')} (${Object.entries(by).map(([p, n]) => `${n} ${p}`).join(', ')})` : t('noReaders'))),
        h('div.cam-ctl', {},
          h('a.button', { href: Sky.withToken('/' + s.path + '/'), target: '_blank', rel: 'noopener' }, t('play')),
          state.recorded.has(s.path) ? h('a.button.rec-link', { href: Sky.withToken('/recordings/?path=' + encodeURIComponent(s.path)) }, t('recordings')) : null,
          h('label.wallpick', {}, h('input', { type: 'checkbox', checked: state.wall.includes(s.path) ? true : null, onchange: (e) => pickWall(s.path, e.target.checked) }), t('toWall'))));
    }));
  };

  // ---- GB28181 devices (registered over SIP; their streams are above) --
  const gbBox = document.getElementById('gb-box');
  const renderGB = () => {
    gbBox.hidden = !state.gb.length;
    document.getElementById('gb').replaceChildren(...state.gb.map((d) => h('div.stream', { dataset: { gb: d.device_id } },
      h('div.cam-head', {},
        h('span.path', {}, d.name || d.model || d.device_id), pill(d.online),
        !d.online ? h('span.muted.small', {}, t('lastSeen', Sky.ago(d.last_seen))) : null),
      h('div.meta', {},
        h('span.sn', {}, d.device_id),
        h('span', {}, `${d.transport || ''} ${d.remote_addr || ''}`),
        h('span', {}, t('channels', (d.channels || []).length))),
      gbLinks(d).length ? h('div.cam-ctl', {}, gbLinks(d)) : null)));
  };
  // gbLinks: a player link per catalog channel (opening it INVITEs the
  // device on demand), marked live while a session runs, then sessions on
  // channels the catalog does not list.
  const gbLinks = (d) => {
    const live = new Set((d.sessions || []).map((s) => s.path));
    const paths = (d.channels || []).map((c) => ['gb28181/' + d.device_id + '/' + c.channel_id, c.name || c.channel_id]);
    for (const p of live) if (!paths.some(([x]) => x === p)) paths.push([p, p]);
    return paths.map(([p, name]) => h('a.button.gb-channel', { href: Sky.withToken('/' + p + '/'), target: '_blank', rel: 'noopener', title: p, dataset: { path: p } },
      name, live.has(p) ? h('span.pill.live', {}, t('live')) : null));
  };

  // ---- wall layouts (kept in this browser's localStorage) -----------
  const LAYOUTS = 'skyrelay.layouts';
  const layouts = () => { try { return JSON.parse(localStorage.getItem(LAYOUTS) || '{}'); } catch (e) { return {}; } };
  const saveLayouts = (l) => { try { localStorage.setItem(LAYOUTS, JSON.stringify(l)); } catch (e) { /* ignore */ } };
  const tilesFor = (n) => (n <= 1 ? 1 : n <= 4 ? 4 : n <= 9 ? 9 : 16);
  const wallURL = (paths, osd) => Sky.withToken(`/wall?paths=${paths.map((p) => encodeURIComponent(p).replace(/%2F/g, '/')).join(',')}&layout=${tilesFor(paths.length)}${osd ? '&osd=1' : ''}`);
  const pickWall = (path, on) => {
    state.wall = state.wall.filter((p) => p !== path);
    if (on) state.wall.push(path);
    state.wall = state.wall.slice(0, 16);
    renderLayouts();
  };
  const renderLayouts = () => {
    const l = layouts();
    const name = h('input', { type: 'text', placeholder: t('layoutName'), 'aria-label': t('layoutName'), maxlength: 40 });
    const sel = state.wall;
    layoutsEl.replaceChildren(
      h('p.muted.small', {}, t('layoutHint')),
      h('div.chips', {}, sel.map((p) => h('span.chip', {}, p, h('button', { type: 'button', 'aria-label': 'remove', onclick: () => { pickWall(p, false); render(); } }, '×')))),
      h('div.row', {},
        h('span.muted', {}, t('selected', sel.length) + (sel.length ? ` → ${tilesFor(sel.length)} ${t('tiles')}` : '')),
        h('a.button' + (sel.length ? '' : '.disabled'), { href: sel.length ? wallURL(sel, true) : null, target: '_blank', rel: 'noopener', id: 'open-wall' }, t('openWall')),
        name,
        h('button', { type: 'button', disabled: sel.length ? null : true, id: 'save-layout', onclick: () => {
          const n = name.value.trim() || `${t('wall')} ${Object.keys(l).length + 1}`;
          l[n] = sel.slice();
          saveLayouts(l);
          renderLayouts();
        } }, t('save')),
        h('button', { type: 'button', onclick: () => { state.wall = []; render(); } }, t('clear'))),
      h('ul.layouts', {}, Object.entries(l).map(([n, paths]) => h('li', {},
        h('a', { href: wallURL(paths, true), target: '_blank', rel: 'noopener' }, n),
        h('span.muted.small', {}, ` ${paths.length} · ${tilesFor(paths.length)} ${t('tiles')}`),
        h('button.small', { type: 'button', onclick: () => { delete l[n]; saveLayouts(l); renderLayouts(); } }, t('del'))))));
  };

  // ---- commands -----------------------------------------------------
  const command = async (vid, kind, fn) => {
    state.pending.set(vid, kind);
    state.errors.delete(vid);
    render();
    try {
      await fn();
    } catch (e) {
      state.errors.set(vid, e.device ? { device_code: e.device.code, source: e.device.source, message: e.message } : { message: e.message });
    } finally {
      state.pending.delete(vid);
      await Promise.all([load('sessions'), load('devices'), load('streams')]);
      render();
    }
  };
  const start = (vid, quality) => command(vid, 'starting', () => api('POST', '/api/v1/live', { video_id: vid, quality }));
  const stop = (vid) => command(vid, 'stopping', () => api('DELETE', '/api/v1/live/' + vid));
  const setQuality = (vid, quality, live) => { if (live) command(vid, 'quality', () => api('PATCH', '/api/v1/live/' + vid, { quality })); };
  const setLens = (vid, lens) => command(vid, 'lens', () => api('PATCH', '/api/v1/live/' + vid, { lens }));

  // ---- map ----------------------------------------------------------
  const map = SkyMap.create(document.getElementById('map-canvas'), {
    tiles: main.dataset.tiles, attribution: main.dataset.attribution, note: document.getElementById('map-note'),
  });
  const mapMarkers = () => {
    const out = [];
    for (const d of state.devices) {
      const add = (dev, gw) => {
        const o = osdOf(dev.sn, dev.osd);
        if (!o || typeof o.latitude !== 'number' || (!o.latitude && !o.longitude)) return;
        out.push({ sn: dev.sn, lat: o.latitude, lon: o.longitude, heading: o.attitude_head,
          kind: dev.domain === 3 ? 'dock' : dev.domain === 0 ? 'aircraft' : 'rc', online: dev.online,
          label: Sky.modelName(dev), gateway: gw, inDock: gw && gw.domain === 3 && osdOf(gw.sn, gw.osd)?.drone_in_dock === 1 });
      };
      add(d, null);
      for (const s of d.sub_devices || []) add(s, d);
    }
    return out;
  };

  // ---- render -------------------------------------------------------
  // A redraw between a button's press and release would swallow the
  // click: redraws wait while a pointer is down or a list is open.
  let pointerDown = false;
  document.addEventListener('pointerdown', () => { pointerDown = true; }, true);
  document.addEventListener('pointerup', () => { setTimeout(() => { pointerDown = false; }, 0); }, true);
  document.addEventListener('pointercancel', () => { pointerDown = false; }, true);
  let deferred = null;
  const render = () => {
    const a = document.activeElement;
    if (pointerDown || (a && a.tagName === 'SELECT' && devicesEl.contains(a))) {
      if (!deferred) deferred = setTimeout(() => { deferred = null; render(); }, 300);
      return;
    }
    renderDevices();
    renderStreams();
    renderGB();
    map.update(mapMarkers(), state.tracks);
  };
  document.addEventListener('sky-lang', () => { render(); renderLayouts(); });

  // ---- live updates -------------------------------------------------
  const setHdr = (up, err) => {
    hdrStatus.textContent = up ? t('eventsUp') : t('eventsDown');
    hdrStatus.dataset.up = up ? '1' : '0';
    if (err && (err.status === 401 || err.status === 403)) showAPIError(err);
  };
  Sky.events('/api/v1/events', (type, ev) => {
    switch (type) {
      case 'device_online': case 'device_offline': case 'topology': case 'state':
        reload('devices');
        break;
      case 'session': {
        const s = ev.data;
        if (s && s.video_id) state.sessions.set(s.video_id, s);
        render();
        break;
      }
      case 'stream':
        reload('streams');
        break;
      case 'osd': // once the control plane sends OSD in this stream too
        if (ev.sn && ev.data) { state.osd.set(ev.sn, ev.data); scheduleOSD(); }
        break;
      default:
    }
  }, (up, err) => {
    setHdr(up, err);
    if (up) { reload('devices'); reload('streams'); reload('sessions'); }
  });
  // OSD changes (up to a few per second per device) redraw only the
  // figures and the map, never the buttons.
  let osdTimer = null;
  const scheduleOSD = () => {
    if (osdTimer) return;
    osdTimer = setTimeout(() => {
      osdTimer = null;
      for (const d of state.devices) {
        for (const dev of [d, ...(d.sub_devices || [])]) {
          const el = devicesEl.querySelector(`[data-figs="${CSS.escape(dev.sn)}"]`);
          if (el) el.replaceChildren(...figures(dev, osdOf(dev.sn, dev.osd)).filter(Boolean));
        }
      }
      map.update(mapMarkers(), state.tracks);
    }, 400);
  };
  Sky.events('/api/v1/telemetry', (type, d) => {
    if (type === 'osd' && d.sn && d.osd) {
      state.osd.set(d.sn, d.osd);
      if (typeof d.osd.latitude === 'number' && (d.osd.latitude || d.osd.longitude)) {
        const tr = state.tracks.get(d.sn) || [];
        tr.push([Date.now(), d.osd.latitude, d.osd.longitude]);
        const cut = Date.now() - 10 * 60000;
        while (tr.length && tr[0][0] < cut) tr.shift();
        state.tracks.set(d.sn, tr);
      }
      scheduleOSD();
    } else if (type === 'track' && d.sn) {
      state.tracks.set(d.sn, (d.points || []).map((p) => [p[0], p[1], p[2]]));
    }
  });
  // Last-seen texts age without an event.
  setInterval(() => {
    document.querySelectorAll('.seen[data-seen]').forEach((el) => {
      if (el.textContent) el.textContent = t('lastSeen', Sky.ago(el.dataset.seen));
    });
  }, 5000);
  // The stream list's reader counts change without events for each one.
  setInterval(() => { reload('streams'); reload('gb'); reload('recorded'); }, 10000);

  window.skyConsole = { state, render };
  (async () => {
    await Promise.all([load('devices'), load('streams'), load('sessions'), load('gb'), load('recorded')]);
    render();
    renderLayouts();
  })();
})();
