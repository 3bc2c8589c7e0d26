// map.js: docks, controllers and aircraft on a canvas, with the track of
// the last minutes. Web Mercator, like every XYZ tile server: with
// console.map_tile_url set, tiles are drawn under the markers; without it
// the map is a plain metric grid (no internet needed) and says how big a
// square is.
'use strict';
(() => {
  const TILE = 256;
  const R = 6378137;
  const toWorld = (lat, lon) => { // 0..1 across the world at zoom 0
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
  };
  const NICE = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

  const create = (canvas, opts) => {
    const ctx = canvas.getContext('2d');
    const tiles = new Map(); // url -> Image
    let markers = [];
    let tracks = new Map();
    let dirty = false;

    const size = () => {
      const w = canvas.parentElement.clientWidth || 400;
      const hgt = Math.round(Math.min(360, Math.max(220, w * 0.62)));
      const dpr = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(hgt * dpr);
        canvas.style.height = hgt + 'px';
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      return [w, hgt];
    };

    const tileURL = (z, x, y) => opts.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', y).replace('{s}', 'abc'[(x + y) % 3]);

    const draw = () => {
      dirty = false;
      const [w, hgt] = size();
      const style = getComputedStyle(document.documentElement);
      ctx.fillStyle = style.getPropertyValue('--map-bg') || '#0d1114';
      ctx.fillRect(0, 0, w, hgt);
      const pts = [];
      for (const m of markers) pts.push([m.lat, m.lon]);
      for (const tr of tracks.values()) for (const p of tr) pts.push([p[1], p[2]]);
      if (!pts.length) {
        ctx.fillStyle = style.getPropertyValue('--muted') || '#999';
        ctx.font = '13px system-ui, sans-serif';
        ctx.textAlign = 'center';
        ctx.fillText(Sky.t('noPosition'), w / 2, hgt / 2);
        if (opts.note) opts.note.textContent = '';
        return;
      }
      // Fit every point, at least about 600 m across, at most zoom 19.
      const ws = pts.map(([la, lo]) => toWorld(la, lo));
      const xs = ws.map((p) => p[0]);
      const ys = ws.map((p) => p[1]);
      const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
      const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
      const spanX = Math.max(...xs) - Math.min(...xs);
      const spanY = Math.max(...ys) - Math.min(...ys);
      const lat0 = pts[0][0];
      const metersPerWorld = 2 * Math.PI * R * Math.cos((lat0 * Math.PI) / 180);
      const minSpan = 600 / metersPerWorld;
      const scaleX = (w - 60) / Math.max(spanX, minSpan);
      const scaleY = (hgt - 60) / Math.max(spanY, minSpan);
      let scale = Math.min(scaleX, scaleY, TILE * Math.pow(2, 19)); // pixels per world unit
      let z = 0;
      if (opts.tiles) { // snap to a tile zoom so tiles stay sharp
        z = Math.max(0, Math.min(19, Math.floor(Math.log2(scale / TILE))));
        scale = TILE * Math.pow(2, z);
      }
      const px = (la, lo) => { const [x, y] = toWorld(la, lo); return [w / 2 + (x - cx) * scale, hgt / 2 + (y - cy) * scale]; };

      if (opts.tiles) {
        const n = Math.pow(2, z);
        const x0 = Math.floor((cx - w / 2 / scale) * n);
        const x1 = Math.floor((cx + w / 2 / scale) * n);
        const y0 = Math.floor((cy - hgt / 2 / scale) * n);
        const y1 = Math.floor((cy + hgt / 2 / scale) * n);
        for (let tx = x0; tx <= x1; tx++) {
          for (let ty = Math.max(0, y0); ty <= Math.min(n - 1, y1); ty++) {
            const url = tileURL(z, ((tx % n) + n) % n, ty);
            let img = tiles.get(url);
            if (!img) {
              img = new Image();
              img.onload = () => schedule();
              img.src = url;
              tiles.set(url, img);
              if (tiles.size > 300) tiles.delete(tiles.keys().next().value);
            }
            if (img.complete && img.naturalWidth) {
              ctx.drawImage(img, w / 2 + (tx / n - cx) * scale, hgt / 2 + (ty / n - cy) * scale, TILE, TILE);
            }
          }
        }
        if (opts.note) opts.note.textContent = opts.attribution || '';
      } else {
        // A grid square of a round number of metres, 50 to 120 px wide.
        const mpp = metersPerWorld / scale;
        const step = NICE.find((m) => m / mpp >= 50) || NICE[NICE.length - 1];
        const stepPx = step / mpp;
        ctx.strokeStyle = style.getPropertyValue('--grid') || '#1f282f';
        ctx.lineWidth = 1;
        ctx.beginPath();
        const ox = ((w / 2 - cx * scale) % stepPx + stepPx) % stepPx;
        const oy = ((hgt / 2 - cy * scale) % stepPx + stepPx) % stepPx;
        for (let x = ox; x < w; x += stepPx) { ctx.moveTo(Math.round(x) + 0.5, 0); ctx.lineTo(Math.round(x) + 0.5, hgt); }
        for (let y = oy; y < hgt; y += stepPx) { ctx.moveTo(0, Math.round(y) + 0.5); ctx.lineTo(w, Math.round(y) + 0.5); }
        ctx.stroke();
        const label = step >= 1000 ? `${step / 1000} km` : `${step} m`;
        if (opts.note) opts.note.textContent = Sky.t('mapGrid', label) + ' · ' + Sky.t('track', 10);
        // scale bar
        ctx.fillStyle = style.getPropertyValue('--muted') || '#999';
        ctx.fillRect(10, hgt - 14, stepPx, 3);
        ctx.font = '11px system-ui, sans-serif';
        ctx.textAlign = 'left';
        ctx.fillText(label, 10, hgt - 18);
      }

      // tracks
      ctx.lineWidth = 2;
      for (const [sn, tr] of tracks) {
        if (tr.length < 2) continue;
        const m = markers.find((k) => k.sn === sn);
        ctx.strokeStyle = m && m.kind === 'aircraft' ? 'rgba(79,179,255,0.65)' : 'rgba(240,181,74,0.5)';
        ctx.beginPath();
        tr.forEach((p, i) => { const [x, y] = px(p[1], p[2]); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
        ctx.stroke();
      }
      // markers: docks and controllers first, aircraft on top
      const order = [...markers].sort((a, b) => (a.kind === 'aircraft') - (b.kind === 'aircraft'));
      ctx.font = '12px system-ui, sans-serif';
      ctx.textAlign = 'left';
      const placed = []; // label boxes already drawn: the next one moves down
      for (const m of order) {
        if (m.kind === 'aircraft' && m.inDock) continue; // drawn as the dock
        const [x, y] = px(m.lat, m.lon);
        const color = !m.online ? '#6b747c' : m.kind === 'aircraft' ? '#4fb3ff' : m.kind === 'dock' ? '#f0b54a' : '#5ccf7a';
        ctx.fillStyle = color;
        ctx.strokeStyle = '#0b0e10';
        ctx.lineWidth = 2;
        ctx.beginPath();
        if (m.kind === 'dock') {
          ctx.rect(x - 7, y - 7, 14, 14);
        } else if (m.kind === 'aircraft') {
          const a = (((m.heading || 0) * Math.PI) / 180);
          const pt = (r, ang) => [x + r * Math.sin(a + ang), y - r * Math.cos(a + ang)];
          ctx.moveTo(...pt(11, 0));
          ctx.lineTo(...pt(8, 2.5));
          ctx.lineTo(...pt(3, Math.PI));
          ctx.lineTo(...pt(8, -2.5));
          ctx.closePath();
        } else {
          ctx.arc(x, y, 6, 0, 2 * Math.PI);
        }
        ctx.stroke();
        ctx.fill();
        const text = `${m.label}${m.kind === 'dock' && markers.some((k) => k.inDock && k.gateway && k.gateway.sn === m.sn) ? ' ✈' : ''}`;
        const tw = ctx.measureText(text).width;
        let ly = y + 4;
        while (placed.some((b) => x + 11 < b[0] + b[2] && b[0] < x + 11 + tw && Math.abs(b[1] - ly) < 14)) ly += 15;
        placed.push([x + 11, ly, tw]);
        ctx.fillStyle = '#0b0e10';
        ctx.fillText(text, x + 12, ly + 1);
        ctx.fillStyle = '#e6e9ec';
        ctx.fillText(text, x + 11, ly);
      }
    };

    const schedule = () => {
      if (dirty) return;
      dirty = true;
      requestAnimationFrame(draw);
    };
    window.addEventListener('resize', schedule);
    return {
      update: (m, tr) => { markers = m; tracks = tr; schedule(); },
    };
  };

  window.SkyMap = { create };
})();
