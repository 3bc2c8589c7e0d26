// pages.mjs: Skyrelay's pages in the browsers run.mjs does not drive:
// Firefox (Debian's firefox-esr, through puppeteer-core over WebDriver BiDi)
// and WebKit, Safari's engine (Debian's WebKitGTK MiniBrowser, through
// WebKitWebDriver's classic WebDriver under a private Xvfb display). One
// browser start, several pages in it, one after the other.
//
//   echo '{"browser":"firefox","pages":[{"url":"http://127.0.0.1:8080/","waitFor":"window.Sky"}]}' | node test/browser/pages.mjs
//
// Job: {browser: "firefox" | "webkit", timeoutMs: per page (default 60000),
//       pages: [Page]}
// Page: the fields run.mjs takes for one page: url, viewport, initScript,
//       waitFor, actions ({click}, {waitFor}, {screenshot}, {viewport}),
//       evaluate, screenshot; and diagnose, an expression whose value is
//       added to the page's console lines when the page failed.
// Result: {ok: every page ok, error, pages: [{ok, result, console, error}]}
//
// WebKit's differences, which classic WebDriver (what safaridriver speaks
// too) imposes: initScript runs after the page's own scripts, not before;
// console errors, warnings and uncaught errors are recorded from right
// after the load on (an error while the page's scripts first run shows as
// the page state a waitFor expects never coming); the viewport sets the
// window's outer size.

import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { readStdin, emit } from './jobio.mjs';

const FIREFOX = process.env.SKYRELAY_FIREFOX || '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.SKYRELAY_WEBKITDRIVER || '/usr/bin/WebKitWebDriver';

// What to stop when the caller gives up on us (SIGTERM): the driver and
// the X server are our children, not the browser's.
const onTerm = [];
process.on('SIGTERM', () => { for (const f of onTerm) f(); process.exit(1); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const firstLine = (e) => String(e && e.message ? e.message : e).split('\n')[0];

// ---- Firefox -------------------------------------------------------------

// Prefs: autoplay without a gesture, WebRTC between the page and the gateway
// on loopback (real host candidates), and no plugin downloads (OpenH264
// would come from the internet: there is none here).
const FIREFOX_PREFS = {
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.autoupdate': false,
};

async function firefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ handleSIGTERM: false,
    browser: 'firefox', executablePath: FIREFOX, headless: true, timeout: 60000, extraPrefsFirefox: FIREFOX_PREFS,
  });
  onTerm.push(() => browser.process()?.kill('SIGKILL'));
  return {
    version: () => browser.version(),
    close: () => browser.close(),
    async open(p, lines) {
      const page = await browser.newPage();
      page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => lines.push(`pageerror: ${firstLine(e)}`));
      page.on('requestfailed', (r) => lines.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
      await page.setViewport(p.viewport || { width: 1280, height: 720 });
      if (p.initScript) await page.evaluateOnNewDocument(p.initScript);
      return {
        goto: (url, ms) => page.goto(url, { timeout: ms, waitUntil: 'load' }),
        eval: (expr) => page.evaluate(expr),
        click: (sel, ms) => page.locator(sel).setTimeout(ms).click(),
        viewport: (v) => page.setViewport(v),
        screenshot: (path, full) => page.screenshot({ path, fullPage: !!full }),
        collect: async () => {},
        close: () => page.close(),
      };
    },
  };
}

// ---- WebKit --------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// xvfb starts a private X server; Xvfb picks the free display number
// itself and writes it on fd 3.
function xvfb() {
  return new Promise((resolve, reject) => {
    const x = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1920x1200x24', '-nolisten', 'tcp'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let err = '';
    x.stderr.on('data', (d) => { err += d; });
    x.on('error', reject);
    x.on('exit', (c) => reject(new Error(`Xvfb exited (${c}): ${err.trim().split('\n').pop()}`)));
    let buf = '';
    x.stdio[3].on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ display: ':' + buf.trim(), proc: x });
    });
  });
}

function miniBrowser() {
  for (const arch of readdirSync('/usr/lib')) {
    const p = `/usr/lib/${arch}/webkit2gtk-4.1/MiniBrowser`;
    try { readdirSync(`/usr/lib/${arch}/webkit2gtk-4.1`); return p; } catch { /* next */ }
  }
  throw new Error('no /usr/lib/*/webkit2gtk-4.1/MiniBrowser (Debian package libwebkit2gtk-4.1-0)');
}

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

// The page's errors, from right after the load on (see the header).
const HOOK = `if (!window.__skyLog) {
  const log = window.__skyLog = [];
  const text = (a) => a.map((x) => (x instanceof Error ? x.message : typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ');
  addEventListener('error', (e) => log.push('pageerror: ' + e.message));
  addEventListener('unhandledrejection', (e) => log.push('pageerror: unhandled rejection: ' + (e.reason && e.reason.message || e.reason)));
  for (const [k, name] of [['error', 'error'], ['warn', 'warning']]) {
    const f = console[k];
    console[k] = (...a) => { log.push(name + ': ' + text(a)); return f.apply(console, a); };
  }
}`;

async function webkit() {
  const x = await xvfb();
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    env: { ...process.env, DISPLAY: x.display }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let driverErr = '';
  driver.stderr.on('data', (d) => { driverErr = (driverErr + d).slice(-2000); });
  const base = `http://127.0.0.1:${port}`;
  const wd = async (method, path, body) => {
    const r = await fetch(base + path, {
      method, headers: { 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
    });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${j.value?.error}: ${j.value?.message}`);
    return j.value;
  };
  const kill = () => { driver.kill('SIGTERM'); x.proc.kill('SIGTERM'); };
  onTerm.push(kill);
  let session;
  try {
    for (let end = Date.now() + 30000; ; await sleep(100)) {
      try { if ((await wd('GET', '/status')).ready) break; } catch (e) {
        if (Date.now() > end) throw new Error(`WebKitWebDriver did not answer: ${firstLine(e)} ${driverErr}`);
      }
    }
    session = await wd('POST', '/session', { capabilities: { alwaysMatch: {
      'webkitgtk:browserOptions': { binary: miniBrowser(), args: ['--automation'] },
    } } });
  } catch (e) {
    kill();
    throw e;
  }
  const s = `/session/${session.sessionId}`;
  const exec = (script) => wd('POST', `${s}/execute/sync`, { script, args: [] });
  const find = async (sel, ms) => {
    for (let end = Date.now() + ms; ; await sleep(100)) {
      try { return (await wd('POST', `${s}/element`, { using: 'css selector', value: sel }))[ELEMENT]; } catch (e) {
        if (Date.now() > end) throw new Error(`no element ${sel} within ${ms} ms`);
      }
    }
  };
  const setRect = (v) => wd('POST', `${s}/window/rect`, { width: v.width, height: v.height });
  return {
    version: async () => `MiniBrowser ${session.capabilities.browserVersion}`,
    close: async () => { await wd('DELETE', s).catch(() => {}); kill(); },
    async open(p) {
      await setRect(p.viewport || { width: 1280, height: 720 });
      let log = [];
      return {
        goto: async (url) => {
          await wd('POST', `${s}/url`, { url });
          await exec(HOOK);
          if (p.initScript) await exec(p.initScript);
        },
        eval: (expr) => exec(`return (${expr});`),
        click: async (sel, ms) => {
          // A page that re-renders (the console, on every event) can
          // replace the element between finding and clicking it.
          for (const end = Date.now() + ms; ; await sleep(100)) {
            try { return await wd('POST', `${s}/element/${await find(sel, Math.max(1, end - Date.now()))}/click`, {}); } catch (e) {
              if (!/stale element|not interactable|intercepted/.test(e.message) || Date.now() > end) throw e;
            }
          }
        },
        viewport: setRect,
        screenshot: async (path) => writeFileSync(path, Buffer.from(await wd('GET', `${s}/screenshot`), 'base64')),
        collect: async (lines) => { try { log = (await exec('return window.__skyLog || []')) || log; } catch { /* page gone */ } lines.push(...log); },
        close: async () => {},
      };
    },
  };
}

// ---- the job -------------------------------------------------------------

// waitFor polls expr until truthy; errors from a page that is still
// loading (not defined yet, navigating) are retried until the end.
async function waitFor(tab, expr, ms) {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      // !! : a DOM node does not come back over the protocol as truthy.
      if (await tab.eval(`!!(${expr})`)) return;
      last = '';
    } catch (e) {
      last = firstLine(e);
      if (!/ReferenceError|TypeError|SyntaxError|can't find variable|is not defined|is null|undefined|navigat|context|destroyed|javascript error/i.test(last)) throw e;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms waiting for ${expr}${last ? ` (last error: ${last})` : ''}`);
    await sleep(100);
  }
}

async function runPage(b, p, ms) {
  const lines = [];
  const out = { ok: false, result: null, console: lines, error: '' };
  const end = Date.now() + ms;
  const left = () => Math.max(1, end - Date.now());
  let step = 'open';
  let tab;
  try {
    tab = await b.open(p, lines);
    step = 'goto';
    await tab.goto(p.url, left());
    if (p.waitFor) { step = 'waitFor'; await waitFor(tab, p.waitFor, left()); }
    for (const [i, a] of (p.actions || []).entries()) {
      step = `action ${i}`;
      if (a.viewport) await tab.viewport(a.viewport);
      if (a.click) await tab.click(a.click, left());
      if (a.waitFor) await waitFor(tab, a.waitFor, left());
      if (a.screenshot) await tab.screenshot(a.screenshot, a.fullPage);
    }
    if (p.evaluate) {
      step = 'evaluate';
      const r = await Promise.race([tab.eval(p.evaluate),
        new Promise((_, reject) => setTimeout(() => reject(new Error('evaluate timed out')), left()).unref())]);
      out.result = r === undefined ? null : r;
    }
    out.ok = true;
  } catch (e) {
    out.error = `${step}: ${firstLine(e)}`;
    if (tab && p.diagnose) {
      try { lines.push(`diagnose: ${JSON.stringify(await tab.eval(p.diagnose))}`); } catch (d) { lines.push(`diagnose failed: ${firstLine(d)}`); }
    }
  }
  if (tab) {
    if (p.screenshot) await tab.screenshot(p.screenshot).catch((e) => lines.push(`screenshot failed: ${firstLine(e)}`));
    await tab.collect(lines);
    await tab.close().catch(() => {});
  }
  return out;
}

async function main() {
  let job;
  try {
    job = JSON.parse(await readStdin());
    if (!['firefox', 'webkit'].includes(job.browser)) throw new Error('"browser" must be firefox or webkit');
    if (!Array.isArray(job.pages) || job.pages.some((p) => typeof p.url !== 'string' || !p.url)) throw new Error('every page needs a "url"');
  } catch (e) {
    await emit({ ok: false, pages: [], error: `bad job: ${e.message}` });
    process.exitCode = 2;
    return;
  }
  const ms = job.timeoutMs > 0 ? job.timeoutMs : 60000;
  const out = { ok: false, browser: '', pages: [], error: '' };
  // A hard stop in case the browser itself hangs past every budget.
  const hardMs = 90000 + job.pages.length * (ms + 15000);
  setTimeout(() => { out.error ||= `hard timeout after ${hardMs} ms`; emit(out).then(() => process.exit(1)); }, hardMs).unref();
  let b;
  try {
    b = await (job.browser === 'firefox' ? firefox() : webkit());
    out.browser = await b.version();
    for (const p of job.pages) out.pages.push(await runPage(b, p, ms));
    out.ok = out.pages.every((p) => p.ok);
  } catch (e) {
    out.error = `${b ? 'run' : 'launch'}: ${firstLine(e)}`;
  } finally {
    if (b) await b.close().catch(() => {});
  }
  await emit(out);
}

main().catch(async (e) => {
  await emit({ ok: false, pages: [], error: `runner: ${e.stack || e}` });
  process.exitCode = 1;
});
