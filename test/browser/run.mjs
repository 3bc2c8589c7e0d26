// run.mjs: one headless Chromium job for Skyrelay's tests.
//
// Reads one JSON job on stdin, drives Debian's /usr/bin/chromium through
// playwright-core (which never downloads a browser here), and writes one
// JSON result on stdout. Go's internal/testpeer.Browser is the usual caller;
// by hand:
//
//   echo '{"url":"http://127.0.0.1:8080/live/a/","waitFor":"document.querySelector(\"video\")?.videoWidth > 0","evaluate":"document.querySelector(\"video\").videoWidth"}' | node test/browser/run.mjs
//
// Job (every field optional except url):
//   url         page to open
//   waitFor     JS expression, polled in the page until truthy (a plain value:
//               a promise is truthy at once)
//   evaluate    JS expression evaluated in the page after waitFor; its value
//               (awaited if a promise) must be JSON-serialisable
//   timeoutMs   budget for navigation + waitFor + evaluate (default 30000);
//               starting Chromium has its own 30 s on top
//   screenshot  path of a PNG to write at the end (also on failure)
//   args        extra Chromium command-line flags
//   fakeMedia   true adds --use-fake-device-for-media-stream --use-fake-ui-for-media-stream
//   viewport    {"width": 420, "height": 900}: the page's size (default 1280x720)
//   device      {"isMobile": true, "hasTouch": true, "deviceScaleFactor": 2}:
//               emulate a touch device (a tablet) of the viewport's size
//   initScript  JS run in the page before its own scripts (a fake
//               window.djiBridge, say)
//   actions     [{"click": "css selector"} | {"tap": "css selector"} (a touch;
//               needs device.hasTouch) | {"waitFor": "js"} |
//               {"screenshot": "path.png"} | {"viewport": {...}}], run in
//               order after waitFor and before evaluate
//
// Result: {"ok": bool, "result": <evaluate's value or null>,
//          "console": ["type: text", ...], "error": "..." }
// The exit code is 0 whenever a result was written (ok may be false), 2 for
// a malformed job.

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStdin, emit } from './jobio.mjs';

const CHROMIUM = process.env.SKYRELAY_CHROMIUM || '/usr/bin/chromium';

// Flags known to be needed for headless Chromium as root on this kind of
// machine (docs/testing.md). The last three let WebRTC
// work between the page and a peer on loopback: real host candidates instead
// of mDNS names, and loopback interfaces in the candidate list.
const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

const FAKE_MEDIA_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

// waitFor polls expr from Node with page.evaluate (DevTools' evaluate, which
// a page's Content-Security-Policy does not block, unlike the string
// evaluation page.waitForFunction does inside the page).
async function waitFor(page, expr, timeout) {
  const end = Date.now() + timeout;
  let last = '';
  for (;;) {
    try {
      if (await page.evaluate(expr)) return;
    } catch (e) {
      last = e.message.split('\n')[0];
      if (/Execution context was destroyed|navigat/i.test(last) === false && /ReferenceError|TypeError|SyntaxError/.test(last) === false) throw e;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${timeout} ms waiting for ${expr}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  let job;
  try {
    job = JSON.parse(await readStdin());
    if (!job || typeof job.url !== 'string' || job.url === '') throw new Error('job needs a "url"');
  } catch (e) {
    await emit({ ok: false, result: null, console: [], error: `bad job: ${e.message}` });
    process.exitCode = 2;
    return;
  }

  const timeoutMs = job.timeoutMs > 0 ? job.timeoutMs : 30000;
  const LAUNCH_TIMEOUT_MS = 30000; // starting Chromium is not the page's budget
  let deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const args = [...BASE_ARGS, ...(job.fakeMedia ? FAKE_MEDIA_ARGS : []), ...(job.args || [])];
  const consoleLines = [];
  const out = { ok: false, result: null, console: consoleLines, error: '' };

  const profile = await mkdtemp(join(tmpdir(), 'skyrelay-chromium-'));
  let context;
  // A hard stop in case Chromium itself hangs past the budget.
  const hardMs = LAUNCH_TIMEOUT_MS + timeoutMs + 15000;
  const guard = setTimeout(() => {
    out.error = out.error || `hard timeout after ${hardMs} ms`;
    emit(out).then(() => process.exit(1));
  }, hardMs);
  guard.unref();

  let step = 'launch';
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args,
      timeout: LAUNCH_TIMEOUT_MS,
      ...(job.device ? {
        viewport: job.viewport || { width: 1280, height: 720 },
        isMobile: !!job.device.isMobile,
        hasTouch: !!job.device.hasTouch,
        deviceScaleFactor: job.device.deviceScaleFactor || 1,
      } : {}),
    });
    deadline = Date.now() + timeoutMs;
    const page = context.pages()[0] || (await context.newPage());
    if (job.viewport) await page.setViewportSize(job.viewport);
    if (job.initScript) await page.addInitScript(job.initScript);
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) =>
      consoleLines.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));

    try {
      step = 'goto';
      await page.goto(job.url, { timeout: left(), waitUntil: 'load' });
      if (job.waitFor) {
        step = 'waitFor';
        await waitFor(page, job.waitFor, left());
      }
      for (const [i, a] of (job.actions || []).entries()) {
        step = `action ${i}`;
        if (a.viewport) await page.setViewportSize(a.viewport);
        if (a.click) await page.click(a.click, { timeout: left() });
        if (a.tap) await page.tap(a.tap, { timeout: left() });
        if (a.waitFor) await waitFor(page, a.waitFor, left());
        if (a.screenshot) await page.screenshot({ path: a.screenshot, timeout: 10000, fullPage: !!a.fullPage });
      }
      if (job.evaluate) {
        step = 'evaluate';
        const r = await Promise.race([
          page.evaluate(job.evaluate),
          new Promise((_, reject) => setTimeout(() => reject(new Error('evaluate timed out')), left()).unref()),
        ]);
        out.result = r === undefined ? null : r;
      }
      out.ok = true;
    } finally {
      if (job.screenshot) {
        try {
          await page.screenshot({ path: job.screenshot, timeout: 10000 });
        } catch (e) {
          consoleLines.push(`screenshot failed: ${e.message}`);
        }
      }
    }
  } catch (e) {
    out.error = `${step}: ${e.message.split('\n')[0]}`;
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
    clearTimeout(guard);
  }
  await emit(out);
}

main().catch(async (e) => {
  await emit({ ok: false, result: null, console: [], error: `runner: ${e.stack || e}` });
  process.exitCode = 1;
});
