// pilot.js: the page DJI Pilot 2 opens in its webview (Cloud Service →
// Open Platform). Through window.djiBridge (JSBridge) it verifies the
// licence, loads the `thing` module with this gateway's broker and the
// controller's credentials, loads `liveshare` once Pilot says it is
// connected, and sets the RTMP live config to a URL of this gateway that
// carries a per-push secret. /pilot/?autostart=1 runs it at once; the
// licence, broker and URL come from POST /api/v1/pilot/session (the page
// is opened as /pilot/?token=... when the API asks for a token).
//
// Every JSBridge call returns a string: JSON {code, message, data}, where
// data may itself be a JSON string (liveshareGetStatus). Callbacks are the
// names of global functions.
'use strict';
(() => {
  const { t, h } = window.Sky;
  Sky.translate();
  document.querySelector('header').append(h('span.spacer'),
    h('button.lang', { type: 'button', onclick: () => Sky.setLang(Sky.lang === 'zh' ? 'en' : 'zh') }, Sky.lang === 'zh' ? 'EN' : '中文'));
  document.addEventListener('sky-lang', () => { document.querySelector('header button.lang').textContent = Sky.lang === 'zh' ? 'EN' : '中文'; });
  const bridge = window.djiBridge;
  const stepsEl = document.getElementById('steps');
  const errEl = document.getElementById('pilot-error');
  const goBtn = document.getElementById('go');
  const stopBtn = document.getElementById('stop');
  const lsState = document.getElementById('ls-state');
  const lsFigs = document.getElementById('ls-figs');
  const watchEl = document.getElementById('watch');
  const THING_TIMEOUT = 30000;

  const STEPS = ['rc', 'session', 'license', 'thing', 'liveshare', 'config'];
  const steps = Object.fromEntries(STEPS.map((s) => [s, { state: 'wait', note: '' }]));
  const out = window.skyPilot = { steps, status: null, error: '', session: null, rcSN: '' };

  const renderSteps = () => {
    stepsEl.replaceChildren(...STEPS.map((s) => h('li', { 'data-state': steps[s].state, 'data-step': s },
      h('span.step-name', {}, t('p_' + s)),
      h('span.step-state', {}, t('p_' + steps[s].state)),
      steps[s].note ? h('span.step-note', {}, steps[s].note) : null)));
  };
  const step = (s, state, note) => { steps[s] = { state, note: note || '' }; renderSteps(); };
  const fail = (msg) => {
    out.error = msg;
    errEl.textContent = msg;
    errEl.hidden = !msg;
  };

  class BridgeError extends Error {}
  // call runs one JSBridge function and unwraps {code, message, data}.
  const call = (name, ...args) => {
    if (typeof bridge[name] !== 'function') throw new BridgeError(`${name}: this Pilot version lacks it`);
    const raw = bridge[name](...args);
    let r;
    try { r = typeof raw === 'string' ? JSON.parse(raw) : raw; } catch (e) { throw new BridgeError(`${name}: unreadable answer ${String(raw).slice(0, 80)}`); }
    if (!r || r.code !== 0) throw new BridgeError(t('bridgeRefused', name, r ? r.code : '?', (r && r.message) || ''));
    let d = r.data;
    if (typeof d === 'string' && /^\s*[{[]/.test(d)) { try { d = JSON.parse(d); } catch (e) { /* keep the string */ } }
    return d;
  };

  // ---- live status --------------------------------------------------
  const showStatus = (s) => {
    if (typeof s === 'string') { try { s = JSON.parse(s); } catch (e) { return; } }
    if (!s || typeof s !== 'object') return;
    out.status = s;
    document.getElementById('live-status').hidden = false;
    const code = Number(s.status);
    lsState.textContent = [0, 1, 2].includes(code) ? t('ls' + code) : `status ${s.status}`;
    lsState.dataset.status = String(code);
    const rows = [
      [t('fps'), s.fps !== undefined ? `${s.fps}` : ''],
      [t('bitrate'), s.videoBitRate !== undefined ? `${s.videoBitRate} kb/s` : ''],
      [t('rtt'), s.rtt !== undefined ? `${s.rtt} ms` : ''],
      [t('quality'), s.quality !== undefined ? Sky.qualityName(s.quality) : ''],
      [t('jitter'), s.jitter !== undefined ? `${s.jitter}` : ''],
      [t('drop'), s.dropRate !== undefined ? `${s.dropRate} %` : ''],
    ].filter(([, v]) => v !== '');
    lsFigs.replaceChildren(...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
    stopBtn.hidden = code !== 2;
    goBtn.hidden = code === 2 && !running;
  };
  window.skyrelayLiveStatus = showStatus;

  // ---- thing connect ------------------------------------------------
  let onConnected = null;
  window.skyrelayThingConnect = (connected) => {
    const ok = connected === true || connected === 'true' || connected === 1 || connected === '1';
    if (ok && onConnected) { const f = onConnected; onConnected = null; f(); }
  };
  const waitConnected = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { onConnected = null; clearInterval(poll); reject(new BridgeError('timeout')); }, THING_TIMEOUT);
    onConnected = () => { clearTimeout(timer); clearInterval(poll); resolve(); };
    // Older Pilot builds call the callback only on changes: ask too.
    const poll = setInterval(() => {
      try { if (call('thingGetConnectState') === true) window.skyrelayThingConnect(true); } catch (e) { /* not there */ }
    }, 1000);
  });

  const unloadIfLoaded = (name) => {
    try {
      if (call('platformIsComponentLoaded', name) === true) call('platformUnloadComponent', name);
    } catch (e) { /* older Pilot: load over it */ }
  };

  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    goBtn.disabled = true;
    fail('');
    STEPS.forEach((s) => { steps[s] = { state: 'wait', note: '' }; });
    let cur = 'rc';
    try {
      step('rc', 'run');
      const rc = String(call('platformGetRemoteControllerSN') || '');
      if (!rc) throw new BridgeError('Pilot did not name its remote controller');
      out.rcSN = rc;
      step('rc', 'ok', rc);

      cur = 'session';
      step('session', 'run');
      let sess;
      try {
        sess = await Sky.api('POST', '/api/v1/pilot/session', { rc_sn: rc });
      } catch (e) {
        throw new BridgeError(t('gwRefused', e.message));
      }
      out.session = { thing: { host: sess.thing.host, username: sess.thing.username }, live: { path: sess.live.path } };
      step('session', 'ok', sess.thing.host);

      cur = 'license';
      step('license', 'run');
      let verified = false;
      try { verified = call('platformIsVerified') === true; } catch (e) { /* ask below */ }
      if (!verified) {
        if (!sess.license.app_id) throw new BridgeError('no licence configured: set pilot.app_id, pilot.app_key and pilot.license');
        call('platformVerifyLicense', sess.license.app_id, sess.license.app_key, sess.license.license);
      }
      step('license', 'ok');

      cur = 'thing';
      step('thing', 'run', sess.thing.host);
      // A reloaded page finds thing loaded with what it was given before:
      // unload it so the broker and account are this gateway's now.
      unloadIfLoaded('thing');
      const connected = waitConnected();
      call('platformLoadComponent', 'thing', JSON.stringify({
        host: sess.thing.host, username: sess.thing.username, password: sess.thing.password,
        connectCallback: 'skyrelayThingConnect',
      }));
      try {
        await connected;
      } catch (e) {
        throw new BridgeError(`Pilot did not connect to ${sess.thing.host} within ${THING_TIMEOUT / 1000} s: check that the controller reaches it and that the broker account is right`);
      }
      step('thing', 'ok', sess.thing.host);

      cur = 'liveshare';
      step('liveshare', 'run');
      unloadIfLoaded('liveshare');
      call('platformLoadComponent', 'liveshare', JSON.stringify({
        videoPublishType: 'video-demand-aux-manual', statusCallback: 'skyrelayLiveStatus',
      }));
      try { call('liveshareSetStatusCallback', 'skyrelayLiveStatus'); } catch (e) { /* set at load already */ }
      step('liveshare', 'ok');

      cur = 'config';
      step('config', 'run');
      call('liveshareSetConfig', 2, JSON.stringify({ url: sess.live.url }));
      try { call('liveshareStartLive'); } catch (e) { /* setting the config started it already */ }
      step('config', 'ok', sess.live.url.replace(/\?.*$/, '') + ' (+ secret)');
      watchEl.textContent = `${t('watchAt')} ${location.origin}${sess.live.page}`;
      pollStatus();
    } catch (e) {
      step(cur, 'fail', '');
      fail(e instanceof BridgeError || e instanceof Sky.ApiError ? e.message : `unexpected: ${e.message}`);
    } finally {
      running = false;
      goBtn.disabled = false;
      goBtn.dataset.t = out.error ? 'pilotRetry' : 'pilotGo';
      goBtn.textContent = t(goBtn.dataset.t);
    }
  };

  let polling = false;
  const pollStatus = () => {
    if (polling) return;
    polling = true;
    setInterval(() => { try { showStatus(call('liveshareGetStatus')); } catch (e) { /* keep the last */ } }, 2000);
  };

  stopBtn.addEventListener('click', () => {
    try { call('liveshareStopLive'); } catch (e) { fail(e.message); }
  });
  goBtn.addEventListener('click', run);
  document.addEventListener('sky-lang', () => { renderSteps(); if (out.status) showStatus(out.status); });
  renderSteps();
  if (!bridge) {
    goBtn.disabled = true;
    fail(t('pilotNoBridge'));
    return;
  }
  if (Sky.query.get('autostart') === '1') run();
})();
