// sky.js: what every Skyrelay page shares: English and Chinese text, the
// API with its optional token, Server-Sent Events read with fetch (so the
// token can go along as a header), and the names DJI products and lenses
// go by. No framework; window.Sky is the whole interface.
'use strict';
(() => {
  // ---- text ---------------------------------------------------------
  const TEXT = {
    en: {
      console: 'Console', wall: 'Video wall', map: 'Map', pilot: 'Pilot 2',
      devices: 'Devices', streams: 'Streams', sessions: 'Live sessions', layouts: 'Wall layouts',
      online: 'online', offline: 'offline', live: 'live', idle: 'ready',
      lastSeen: 'last seen {0}', seenNever: 'never seen', ago: '{0} ago', justNow: 'just now',
      start: 'Start', stop: 'Stop', play: 'Play', quality: 'Quality', lens: 'Lens', toWall: '+ wall',
      battery: 'Battery', altitude: 'Alt', height: 'Height', speed: 'Speed', vspeed: 'V/S', heading: 'Hdg',
      mode: 'Mode', dockState: 'Dock', cover: 'Cover', aircraftInDock: 'aircraft in dock', network: 'Link',
      position: 'Position', noPosition: 'no position yet', gps: 'GNSS', wind: 'Wind', temp: 'Temp',
      readers: 'readers', reader: 'reader', noReaders: 'no readers', source: 'from', tracks: 'tracks',
      noDevices: 'No DJI device has connected yet. Point a dock or Pilot 2 at this gateway\'s MQTT broker, or run docksim.',
      noStreams: 'No stream is live. Publish one, for example:',
      thenOpen: 'then open {0}',
      eventsUp: 'live', eventsDown: 'reconnecting…', eventsAuth: 'API refused: {0}',
      tokenPrompt: 'The API answers this browser only with a token (auth.api_token). Token:',
      setToken: 'Set API token',
      needToken: 'Not authorized: this page needs a token. Open it with ?jwt=TOKEN.',
      tokenRefused: 'Not authorized: the token does not allow this.',
      step_sent: 'asked the device', step_device_accepted: 'device answered, waiting for media',
      step_media_arriving: 'media arriving', step_playable: 'playing', step_failed: 'failed', step_stopped: 'stopped',
      starting: 'starting…', stopping: 'stopping…',
      deviceError: 'device error {0} ({1}): {2}', origin_dock: 'dock', origin_pilot: 'Pilot', origin_device: 'aircraft', origin_unknown: 'unknown origin',
      q0: 'auto', q1: 'smooth', q2: 'SD', q3: 'HD', q4: 'UHD',
      lens_normal: 'default', lens_wide: 'wide', lens_zoom: 'zoom', lens_ir: 'thermal', lens_thermal: 'thermal',
      layoutName: 'Layout name', save: 'Save', open: 'Open', del: 'Delete', tiles: 'tiles',
      layoutHint: 'Tick streams or cameras (+ wall) to build a layout; layouts are kept in this browser (localStorage).',
      selected: '{0} selected', clear: 'Clear', openWall: 'Open wall',
      mapGrid: 'no tile server configured (console.map_tile_url): plain grid, {0} per square',
      track: 'track of the last {0} min',
      connecting: 'connecting…', playingWebRTC: 'playing · WebRTC', playingHLS: 'playing · LL-HLS',
      webrtcFailed: 'WebRTC failed', reconnecting: 'reconnecting…', stalled: 'stalled',
      noStreamHere: 'Nothing is published on {0} yet.', publishWith: 'Publish to it, for example:',
      waitingPublish: 'This page reloads by itself when the stream arrives.',
      back: 'Back to the console', osd: 'Telemetry', fullscreen: 'Full screen',
      emptyTile: 'empty', wallEmpty: 'No paths in the URL. Pick streams in the console, or add ?paths=live/a,live/b',
      pilotTitle: 'Skyrelay for DJI Pilot 2',
      pilotNoBridge: 'This page must be opened inside DJI Pilot 2 (Cloud Service → Open Platform): window.djiBridge is missing.',
      pilotGo: 'Connect and go live', pilotStop: 'Stop live', pilotRetry: 'Try again',
      p_rc: 'remote controller', p_session: 'ask the gateway', p_license: 'verify the licence', p_thing: 'connect to the broker',
      p_liveshare: 'load liveshare', p_config: 'set the RTMP URL', p_live: 'go live',
      p_wait: 'waiting', p_ok: 'done', p_fail: 'failed', p_run: 'working…',
      ls0: 'not connected to the server', ls1: 'connected, not live', ls2: 'live',
      fps: 'fps', bitrate: 'bitrate', rtt: 'RTT', jitter: 'jitter', drop: 'loss',
      watchAt: 'Viewers watch at', camera: 'camera', gbDevices: 'GB28181 devices', channels: '{0} channels',
      gwRefused: 'The gateway refused: {0}',
      bridgeRefused: '{0} answered code {1}: {2}',
      recordings: 'Recordings', search: 'Search', deviceSN: 'device SN', flightID: 'flight id',
      noRecordings: 'Nothing recorded yet. Set record.enabled: true, or POST /api/v1/recordings/PATH/start.',
      segments: '{0} segments', recordingNow: 'recording', flight: 'flight', clickTimeline: 'Click the timeline to play from that time.',
      playingFrom: 'playing from {0}', noOSD: 'no telemetry recorded',
    },
    zh: {
      console: '控制台', wall: '视频墙', map: '地图', pilot: 'Pilot 2',
      devices: '设备', streams: '视频流', sessions: '直播会话', layouts: '视频墙布局',
      online: '在线', offline: '离线', live: '直播中', idle: '就绪',
      lastSeen: '最后在线 {0}', seenNever: '从未上线', ago: '{0}前', justNow: '刚刚',
      start: '开始', stop: '停止', play: '播放', quality: '清晰度', lens: '镜头', toWall: '+ 上墙',
      battery: '电量', altitude: '高度', height: '高度', speed: '速度', vspeed: '升降', heading: '航向',
      mode: '模式', dockState: '机场', cover: '舱盖', aircraftInDock: '飞机在舱内', network: '链路',
      position: '位置', noPosition: '暂无位置', gps: '卫星', wind: '风速', temp: '温度',
      readers: '观看', reader: '观看', noReaders: '无人观看', source: '来源', tracks: '轨道',
      noDevices: '还没有大疆设备连接。请将机场或 Pilot 2 指向本网关的 MQTT 服务器，或运行 docksim。',
      noStreams: '当前没有直播流。可以这样推流：',
      thenOpen: '然后打开 {0}',
      eventsUp: '实时', eventsDown: '重新连接中…', eventsAuth: 'API 拒绝：{0}',
      tokenPrompt: '本浏览器访问 API 需要令牌（auth.api_token）。令牌：',
      setToken: '设置 API 令牌',
      needToken: '未授权：本页需要令牌。请以 ?jwt=令牌 打开。',
      tokenRefused: '未授权：该令牌不允许此操作。',
      step_sent: '已向设备发送请求', step_device_accepted: '设备已应答，等待视频',
      step_media_arriving: '视频到达中', step_playable: '播放中', step_failed: '失败', step_stopped: '已停止',
      starting: '启动中…', stopping: '停止中…',
      deviceError: '设备错误 {0}（{1}）：{2}', origin_dock: '机场', origin_pilot: 'Pilot', origin_device: '飞行器', origin_unknown: '来源未知',
      q0: '自适应', q1: '流畅', q2: '标清', q3: '高清', q4: '超清',
      lens_normal: '默认', lens_wide: '广角', lens_zoom: '变焦', lens_ir: '红外', lens_thermal: '红外',
      layoutName: '布局名称', save: '保存', open: '打开', del: '删除', tiles: '画面',
      layoutHint: '勾选视频流或相机（+ 上墙）组成布局；布局保存在本浏览器（localStorage）。',
      selected: '已选 {0} 路', clear: '清空', openWall: '打开视频墙',
      mapGrid: '未配置瓦片服务器（console.map_tile_url）：网格每格 {0}',
      track: '最近 {0} 分钟轨迹',
      connecting: '连接中…', playingWebRTC: '播放中 · WebRTC', playingHLS: '播放中 · LL-HLS',
      webrtcFailed: 'WebRTC 失败', reconnecting: '重新连接中…', stalled: '卡顿',
      noStreamHere: '{0} 上还没有推流。', publishWith: '可以这样推流：',
      waitingPublish: '推流到达后本页会自动刷新。',
      back: '返回控制台', osd: '遥测', fullscreen: '全屏',
      emptyTile: '空', wallEmpty: '网址中没有路径。请在控制台选择视频流，或加上 ?paths=live/a,live/b',
      pilotTitle: 'Skyrelay · 大疆 Pilot 2',
      pilotNoBridge: '请在大疆 Pilot 2 中打开本页（云服务 → 开放平台）：缺少 window.djiBridge。',
      pilotGo: '连接并开始直播', pilotStop: '停止直播', pilotRetry: '重试',
      p_rc: '遥控器', p_session: '向网关请求参数', p_license: '校验许可证', p_thing: '连接 MQTT 服务器',
      p_liveshare: '加载直播模块', p_config: '设置 RTMP 地址', p_live: '开始直播',
      p_wait: '等待', p_ok: '完成', p_fail: '失败', p_run: '进行中…',
      ls0: '未连接服务器', ls1: '已连接，未直播', ls2: '直播中',
      fps: '帧率', bitrate: '码率', rtt: '往返时延', jitter: '抖动', drop: '丢包',
      watchAt: '观看地址', camera: '相机', gbDevices: 'GB28181 设备', channels: '{0} 个通道',
      gwRefused: '网关拒绝：{0}',
      bridgeRefused: '{0} 返回错误码 {1}：{2}',
      recordings: '录像', search: '搜索', deviceSN: '设备 SN', flightID: '架次 ID',
      noRecordings: '还没有录像。设置 record.enabled: true，或 POST /api/v1/recordings/路径/start。',
      segments: '{0} 个分段', recordingNow: '录制中', flight: '架次', clickTimeline: '点击时间轴从该时刻播放。',
      playingFrom: '从 {0} 播放', noOSD: '没有录制遥测',
    },
  };

  const query = new URLSearchParams(location.search);
  const pickLang = () => {
    const q = query.get('lang');
    if (q === 'zh' || q === 'en') return q;
    try {
      const s = localStorage.getItem('skyrelay.lang');
      if (s === 'zh' || s === 'en') return s;
    } catch (e) { /* storage may be off */ }
    return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  };
  let lang = pickLang();
  const t = (key, ...args) => {
    const s = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
    return s.replace(/\{(\d)\}/g, (_, i) => (args[i] === undefined ? '' : String(args[i])));
  };
  // translate fills every [data-t] element of root with its text.
  const translate = (root = document) => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    root.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
  };
  const setLang = (l) => {
    lang = l;
    try { localStorage.setItem('skyrelay.lang', l); } catch (e) { /* ignore */ }
    translate();
    document.dispatchEvent(new Event('sky-lang'));
  };

  // ---- DOM ----------------------------------------------------------
  // h('div#id.card', {title: 'x', onclick: f}, child, 'text', ...)
  const h = (tag, attrs, ...kids) => {
    const [head, ...classes] = tag.split('.');
    const [name, id] = head.split('#');
    const el = document.createElement(name || 'div');
    if (id) el.id = id;
    if (classes.length) el.className = classes.join(' ');
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) {
      if (k === undefined || k === null || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  };

  // ---- API ----------------------------------------------------------
  // The API answers loopback only, unless auth.api_token is set or a JSON
  // Web Token allows it. A page learns its token from its own URL, ?jwt=
  // (as the player, WHEP and LL-HLS take it, like mediamtx) or ?token=,
  // else from what was typed once. It sends it as Authorization: Bearer
  // wherever it can (fetch, the event streams), and as ?jwt= where a header
  // is impossible (<video src>, hls.js, WHEP, links to other pages): see
  // withToken. Only a JWT ever goes into a URL; auth.api_token, an admin
  // secret the server never accepts from a query, stays in headers.
  const TOKEN_KEY = 'skyrelay.token';
  let token = query.get('jwt') || query.get('token') || '';
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else token = sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || '';
  } catch (e) { /* ignore */ }
  const setToken = (v) => {
    token = v || '';
    try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* ignore */ }
  };
  const headers = (extra) => Object.assign(token ? { Authorization: 'Bearer ' + token } : {}, extra || {});
  // isJWT: a compact JWS (three base64url parts, the header "{..." = "ey").
  const isJWT = (s) => /^ey[\w-]+\.[\w-]+\.[\w-]*$/.test(s || '');
  // withToken is a relative url with jwt= added to its query when the
  // token is a JWT. An absolute URL (another site) never gets the token.
  const withToken = (url) => {
    if (!isJWT(token) || typeof url !== 'string' || /^([a-z][\w+.-]*:|\/\/)/i.test(url) || /[?&]jwt=/.test(url)) return url;
    const [head, hash] = url.split('#');
    return head + (head.includes('?') ? '&' : '?') + 'jwt=' + encodeURIComponent(token) + (hash !== undefined ? '#' + hash : '');
  };
  // refusal is the page's words for a 401 or 403, '' for anything else.
  const refusal = (e) => (!e ? '' : e.status === 401 ? t('needToken') : e.status === 403 ? t('tokenRefused') : '');

  // ApiError keeps the API's code and message apart from the transport:
  // the pages show one short line each, never a glued 300-character one.
  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `HTTP ${status}`);
      this.status = status;
      this.code = e.code || '';
      this.device = e.device_code !== undefined ? { code: e.device_code, source: e.source || 'unknown' } : null;
    }
  }
  const api = async (method, path, body) => {
    const res = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (res.status === 204) return null;
    let j = null;
    try { j = await res.json(); } catch (e) { /* empty or not JSON */ }
    if (!res.ok) throw new ApiError(res.status, j);
    return j;
  };

  // events reads Server-Sent Events with fetch (EventSource cannot send
  // a token) and reconnects by itself. onEvent(type, data); onState(up,
  // error). Returns a function that stops it.
  const events = (url, onEvent, onState) => {
    let stopped = false;
    let ctrl = null;
    const loop = async () => {
      let backoff = 1000;
      while (!stopped) {
        ctrl = new AbortController();
        try {
          const res = await fetch(url, { headers: headers({ Accept: 'text/event-stream' }), signal: ctrl.signal });
          if (!res.ok) {
            let j = null;
            try { j = await res.json(); } catch (e) { /* ignore */ }
            throw new ApiError(res.status, j);
          }
          onState && onState(true, null);
          backoff = 1000;
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let type = 'message';
              const data = [];
              for (const line of block.split('\n')) {
                if (line.startsWith('event:')) type = line.slice(6).trim();
                else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
              }
              if (!data.length) continue;
              let parsed;
              try { parsed = JSON.parse(data.join('\n')); } catch (e) { continue; }
              try { onEvent(type, parsed); } catch (e) { console.error(e); }
            }
          }
          if (!stopped) onState && onState(false, null);
        } catch (e) {
          if (stopped) return;
          onState && onState(false, e);
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) backoff = 10000;
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
      }
    };
    loop();
    return () => { stopped = true; if (ctrl) ctrl.abort(); };
  };

  // ---- names --------------------------------------------------------
  // "domain-type-sub_type" of products (DJI's product support table).
  const MODELS = {
    '0-60-0': 'Matrice 300 RTK', '0-67-0': 'Matrice 30', '0-67-1': 'Matrice 30T',
    '0-77-0': 'Mavic 3E', '0-77-1': 'Mavic 3T', '0-77-2': 'Mavic 3M', '0-89-0': 'Matrice 350 RTK',
    '0-91-0': 'Matrice 3D', '0-91-1': 'Matrice 3TD', '0-99-0': 'Matrice 4E', '0-99-1': 'Matrice 4T',
    '0-100-0': 'Matrice 4D', '0-100-1': 'Matrice 4TD', '0-103-0': 'Matrice 400',
    '2-56-0': 'DJI Smart Controller Enterprise', '2-119-0': 'DJI RC Plus', '2-144-0': 'DJI RC Pro Enterprise',
    '2-174-0': 'DJI RC Plus 2',
    '3-1-0': 'DJI Dock', '3-2-0': 'DJI Dock 2', '3-3-0': 'DJI Dock 3',
  };
  const modelName = (d) => {
    const key = `${d.domain}-${d.type}-${d.sub_type}`;
    if (MODELS[key]) return MODELS[key];
    if (d.domain === 3) return 'DJI Dock';
    if (d.domain === 2) return 'remote controller';
    if (d.domain === 0) return 'aircraft';
    return 'device ' + key;
  };
  // Cameras by the first number of camera_index ("99-0-0").
  const CAMERAS = {
    39: 'FPV', 176: 'FPV (aux)', 42: 'H20', 43: 'H20T', 61: 'H20N', 82: 'H30', 83: 'H30T', 20: 'Z30',
    26: 'XT2', 41: 'XT S', 52: 'M30 camera', 53: 'M30T camera', 88: 'M4E camera', 89: 'M4T camera',
    66: 'M3E camera', 67: 'M3T camera', 129: 'M3TA camera', 80: 'M3D camera', 81: 'M3TD camera',
    98: 'M4D camera', 99: 'M4TD camera', 165: 'dock camera',
  };
  const cameraName = (cam) => {
    const idx = cam.camera_index || (cam.video_id || '').split('/')[1] || '';
    const n = CAMERAS[parseInt(idx, 10)];
    if (!n) return t('camera') + ' ' + idx;
    return lang === 'zh' ? n.replace('dock camera', '机场相机').replace(' camera', ' 相机').replace('(aux)', '（辅助）') : n;
  };
  const lensName = (v) => t('lens_' + v) === 'lens_' + v ? v : t('lens_' + v);
  const qualityName = (q) => t('q' + q);
  const AIRCRAFT_MODES = {
    en: ['standby', 'preparing take-off', 'ready to take off', 'manual flight', 'auto take-off', 'wayline flight',
      'panorama', 'tracking', 'ADS-B avoidance', 'returning home', 'auto landing', 'forced landing',
      'three-blade landing', 'upgrading', 'disconnected', 'APAS', 'virtual stick', 'live flight control',
      'airborne RTK fixing', 'dock site survey', 'POI'],
    zh: ['待机', '起飞准备', '起飞准备完毕', '手动飞行', '自动起飞', '航线飞行', '全景拍照', '智能跟随', 'ADS-B 躲避',
      '自动返航', '自动降落', '强制降落', '三桨叶降落', '升级中', '未连接', 'APAS', '虚拟摇杆', '指令飞行',
      '空中 RTK 收敛', '机场选址', 'POI 环绕'],
  };
  const DOCK_MODES = {
    en: ['idle', 'on-site debugging', 'remote debugging', 'upgrading firmware', 'working', 'needs calibration'],
    zh: ['空闲', '现场调试', '远程调试', '固件升级中', '作业中', '待标定'],
  };
  const modeName = (domain, code) => {
    if (code === undefined || code === null) return '';
    const table = (domain === 3 ? DOCK_MODES : AIRCRAFT_MODES)[lang];
    return table[code] || `mode ${code}`;
  };

  // ---- formatting ---------------------------------------------------
  const ago = (iso) => {
    if (!iso || iso.startsWith('0001')) return t('seenNever');
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 5) return t('justNow');
    const v = s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.round(s / 60)} min` :
      s < 86400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
    return t('ago', v);
  };
  const num = (v, digits = 0) => (typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '–');
  const bitrate = (bps) => {
    if (!(bps > 0)) return '–';
    return bps >= 1e6 ? (bps / 1e6).toFixed(1) + ' Mb/s' : Math.round(bps / 1e3) + ' kb/s';
  };

  // deviceErrorText: "device error 513003 (dock): meaning".
  const deviceErrorText = (err) => {
    if (!err) return '';
    if (err.device_code !== undefined) {
      const msg = (err.message || '').replace(/^.*? refused by the [a-z]+: /, '');
      return t('deviceError', err.device_code, t('origin_' + (err.source || 'unknown')), msg);
    }
    return err.message || err.code || '';
  };

  // ---- header -------------------------------------------------------
  // header() fills <header> with the brand, the page links, the language
  // switch and a slot for the page's own status.
  const header = (active) => {
    const el = document.querySelector('header');
    if (!el) return;
    el.replaceChildren(
      h('a.brand', { href: withToken('/') }, 'Skyrelay'),
      h('nav', {},
        h('a', { href: withToken('/'), class: active === 'console' ? 'on' : null, 'data-t': 'console' }, t('console')),
        h('a', { href: withToken('/wall'), class: active === 'wall' ? 'on' : null, 'data-t': 'wall' }, t('wall')),
        h('a', { href: withToken('/recordings/'), class: active === 'recordings' ? 'on' : null, 'data-t': 'recordings' }, t('recordings'))),
      h('span.spacer'),
      h('span#hdr-status.hdr-status'),
      h('button.lang', { type: 'button', title: 'English / 中文', onclick: () => setLang(lang === 'zh' ? 'en' : 'zh') },
        lang === 'zh' ? 'EN' : '中文'));
    document.addEventListener('sky-lang', () => {
      const b = el.querySelector('button.lang');
      if (b) b.textContent = lang === 'zh' ? 'EN' : '中文';
    });
  };

  // fullscreen(el) puts el in full screen, or leaves it. Safari before
  // 16.4 (iPads among them) has only the webkit-prefixed calls, and an
  // iPhone neither outside a video element: then the button does nothing.
  const fullscreen = (el) => {
    const d = document;
    const exit = d.exitFullscreen || d.webkitExitFullscreen;
    const enter = el.requestFullscreen || el.webkitRequestFullscreen;
    const p = (d.fullscreenElement || d.webkitFullscreenElement) ? exit && exit.call(d) : enter && enter.call(el);
    if (p && p.catch) p.catch(() => {}); // refused (no user gesture): nothing to tell
  };

  window.Sky = {
    t, translate, setLang, get lang() { return lang; }, h, api, events, ApiError, setToken,
    get token() { return token; }, get jwt() { return isJWT(token) ? token : ''; }, headers, query, withToken, refusal,
    modelName, cameraName, lensName, qualityName, modeName, ago, num, bitrate, deviceErrorText, header,
    fullscreen,
  };
})();
