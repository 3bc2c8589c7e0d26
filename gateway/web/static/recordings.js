// recordings.js: the recordings page. Without ?path= it lists what was
// recorded (GET /api/v1/recordings, searchable by device and flight);
// with ?path=P it is the playback view: P's segments drawn as bars on a
// time axis (gaps stay visible), a click plays from that time (the range
// MP4 up to the end of that run of segments, at most an hour), a marker
// follows the picture, and the recorded OSD is shown over it in time.
'use strict';
(() => {
  const { h, t, api } = window.Sky;
  Sky.header('recordings');
  Sky.translate();
  const q = new URLSearchParams(location.search);
  const path = q.get('path');
  const enc = (p) => p.split('/').map(encodeURIComponent).join('/');
  const base = (p) => '/api/v1/recordings/' + enc(p);
  const fmt = (ms) => new Date(ms).toLocaleString(Sky.lang === 'zh' ? 'zh-CN' : undefined, { hour12: false });
  const hhmm = (ms) => new Date(ms).toLocaleTimeString(undefined, { hour12: false });
  const mb = (b) => (b / 1e6).toFixed(1) + ' MB';
  const state = window.skyRecordings = { path, segments: [], runs: [], playing: null, osdLines: 0 };

  // ---- the list --------------------------------------------------------
  const showList = async () => {
    const form = document.getElementById('search');
    form.device.value = q.get('device') || '';
    form.flight.value = q.get('flight') || '';
    form.querySelectorAll('[data-ph]').forEach((el) => { el.placeholder = t(el.dataset.ph); });
    const qs = new URLSearchParams();
    for (const k of ['device', 'flight', 'from', 'to']) if (q.get(k)) qs.set(k, q.get(k));
    const list = document.getElementById('list');
    try {
      const r = await api('GET', '/api/v1/recordings' + (qs.toString() ? '?' + qs : ''));
      const items = r.items || [];
      state.items = items;
      if (!items.length) { list.replaceChildren(h('p.muted', {}, t('noRecordings'))); return; }
      list.replaceChildren(...items.map((it) => {
        const m = it.matches || [];
        const sns = [...new Set(m.map((x) => x.device_sn).filter(Boolean))];
        const flights = [...new Set(m.map((x) => x.flight_id).filter(Boolean))];
        return h('div.stream.rec', { dataset: { path: it.path } },
          h('div.cam-head', {},
            h('a.path', { href: Sky.withToken('?path=' + encodeURIComponent(it.path)) }, it.path),
            it.recording ? h('span.pill.live', {}, t('recordingNow')) : null),
          h('div.meta', {},
            h('span', {}, `${fmt(Date.parse(it.start))} – ${fmt(Date.parse(it.end))}`),
            h('span', {}, t('segments', it.segments)), h('span', {}, mb(it.bytes || 0)),
            sns.length ? h('span.sn', {}, sns.join(', ')) : null,
            flights.length ? h('span', {}, t('flight') + ' ' + flights.join(', ')) : null),
          it.error ? h('p.error', {}, it.error) : null);
      }));
    } catch (e) {
      list.replaceChildren(h('p.error', {}, Sky.refusal(e) || e.message));
    }
  };

  // ---- the playback view ----------------------------------------------
  const video = document.getElementById('video');
  const tl = document.getElementById('timeline');
  const now = document.getElementById('tl-now');
  const osdEl = document.getElementById('osd');
  const status = document.getElementById('status');
  let span = { from: 0, to: 1 };
  const x = (ms) => ((ms - span.from) / (span.to - span.from)) * 100;

  const drawTimeline = () => {
    tl.querySelectorAll('.tl-seg').forEach((el) => el.remove());
    for (const s of state.segments) {
      // CSSOM, not a style attribute: the pages' CSP forbids inline styles.
      const el = h('div.tl-seg', { title: `${fmt(s.startMs)} · ${Math.round(s.duration)} s · ${mb(s.bytes)}` });
      el.style.left = x(s.startMs) + '%';
      el.style.width = Math.max(0.3, x(s.endMs) - x(s.startMs)) + '%';
      tl.append(el);
    }
    const axis = document.getElementById('tl-axis');
    axis.replaceChildren(...[0, 0.5, 1].map((f) => {
      const el = h('span', {}, hhmm(span.from + f * (span.to - span.from)));
      el.style.left = f * 100 + '%';
      return el;
    }));
  };

  // runs: segments that follow each other without a gap (< 1.5 s apart).
  const toRuns = (segs) => {
    const runs = [];
    for (const s of segs) {
      const last = runs[runs.length - 1];
      if (last && s.startMs - last.endMs < 1500) last.endMs = Math.max(last.endMs, s.endMs);
      else runs.push({ startMs: s.startMs, endMs: s.endMs });
    }
    return runs;
  };

  let osd = []; // [{ms, osd}] of the range playing
  let recStart = 0; // wall-clock ms of the MP4's first sample
  const playAt = async (ms) => {
    const run = state.runs.find((r) => ms >= r.startMs && ms < r.endMs) || state.runs.find((r) => r.startMs > ms);
    if (!run) return;
    const start = Math.max(ms, run.startMs);
    const dur = Math.max(1, Math.min(3600, (run.endMs - start) / 1000));
    const qs = `start=${encodeURIComponent(new Date(start).toISOString())}&duration=${dur.toFixed(3)}`;
    const url = base(path) + '/mp4?' + qs;
    state.playing = { start: new Date(start).toISOString(), duration: dur, url };
    recStart = start;
    osd = [];
    status.textContent = t('playingFrom', fmt(start));
    try {
      const r = await fetch(url, { method: 'HEAD', headers: Sky.headers() });
      const hs = r.headers.get('X-Recording-Start');
      if (hs && !Number.isNaN(Date.parse(hs))) recStart = Date.parse(hs);
    } catch (e) { /* the requested start is close enough */ }
    video.src = Sky.withToken(url); // a <video> sends no header: ?jwt=
    video.play().catch(() => {});
    try {
      const r = await fetch(base(path) + '/osd?' + qs, { headers: Sky.headers() });
      if (r.ok) {
        for (const line of (await r.text()).split('\n')) {
          try { const o = JSON.parse(line); if (o.osd) osd.push({ ms: Date.parse(o.t), osd: o.osd }); } catch (e) { /* skip */ }
        }
      }
    } catch (e) { /* no telemetry */ }
    state.osdLines = osd.length;
  };

  const osdAt = (ms) => {
    let best = null;
    for (const o of osd) { if (o.ms <= ms) best = o.osd; else break; }
    return best;
  };
  const tick = () => {
    if (state.playing && !Number.isNaN(video.currentTime)) {
      const ms = recStart + video.currentTime * 1000;
      state.position = new Date(ms).toISOString();
      now.hidden = false;
      now.style.left = x(ms) + '%';
      const o = osdAt(ms);
      osdEl.hidden = !o;
      if (o) {
        const rows = [];
        const height = typeof o.elevation === 'number' ? o.elevation : o.height;
        if (typeof height === 'number') rows.push([t('altitude'), Sky.num(height, 1) + ' m']);
        if (typeof o.horizontal_speed === 'number') rows.push([t('speed'), Sky.num(o.horizontal_speed, 1) + ' m/s']);
        if (typeof o.attitude_head === 'number') rows.push([t('heading'), Sky.num((o.attitude_head + 360) % 360, 0) + '°']);
        const bat = o.battery && o.battery.capacity_percent;
        if (typeof bat === 'number') rows.push([t('battery'), bat + ' %']);
        if (typeof o.latitude === 'number' && (o.latitude || o.longitude)) rows.push(['', `${o.latitude.toFixed(6)}, ${o.longitude.toFixed(6)}`]);
        osdEl.replaceChildren(...rows.map(([k, v]) => h('div', {}, k ? h('b', {}, k) : null, v)));
      }
    }
    requestAnimationFrame(tick);
  };

  let drawMeta = () => {};
  const showPlayer = async () => {
    document.getElementById('list-box').hidden = true;
    document.getElementById('play-box').hidden = false;
    document.getElementById('rec-path').textContent = path;
    document.title = path + ' – Skyrelay';
    try {
      const r = await api('GET', base(path));
      state.segments = (r.segments || []).map((s) => {
        const startMs = Date.parse(s.start);
        return Object.assign({}, s, { startMs, endMs: startMs + s.duration * 1000 });
      }).sort((a, b) => a.startMs - b.startMs);
      if (!state.segments.length) { status.textContent = t('noRecordings'); return; }
      state.runs = toRuns(state.segments);
      const first = state.segments[0].startMs;
      const last = Math.max(...state.segments.map((s) => s.endMs));
      const pad = Math.max(1000, (last - first) * 0.02);
      span = { from: first - pad, to: last + pad };
      drawMeta = () => {
        const sns = [...new Set(state.segments.map((s) => s.device_sn).filter(Boolean))];
        const flights = [...new Set(state.segments.map((s) => s.flight_id).filter(Boolean))];
        document.getElementById('rec-meta').textContent = [`${fmt(first)} – ${fmt(last)}`, t('segments', state.segments.length),
          sns.join(', '), flights.length ? t('flight') + ' ' + flights.join(', ') : ''].filter(Boolean).join(' · ');
        if (!state.playing) status.textContent = t('clickTimeline');
      };
      drawMeta();
      drawTimeline();
    } catch (e) {
      status.textContent = Sky.refusal(e) || e.message;
    }
  };

  // The language switch redraws what the script wrote.
  document.addEventListener('sky-lang', () => {
    Sky.translate();
    if (!path) showList();
    else drawMeta();
  });
  if (!path) { showList(); return; }
  tl.addEventListener('click', (e) => {
    const r = tl.getBoundingClientRect();
    playAt(span.from + ((e.clientX - r.left) / r.width) * (span.to - span.from));
  });
  tl.addEventListener('keydown', (e) => { if (e.key === 'Enter' && state.runs.length) playAt(state.runs[0].startMs); });
  showPlayer();
  requestAnimationFrame(tick);
})();
