// Drives the system Chromium with playwright-core for Go tests: opens a page,
// polls a probe expression until a condition holds, and prints one JSON line
// per event on stdout. Usage: node browser.js '<options as JSON>'
//   url        page to open
//   html       optional: serve this HTML at url instead of asking the server
//   probe      JS expression evaluated in the page, returns a JSON value
//   until      JS expression over v (the probe's value), true ends the run
//   timeoutMs  give up after this long (exit status 1)
//   screenshot optional PNG path, taken when the run ends
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

(async () => {
  const o = JSON.parse(process.argv[2]);
  const until = new Function('v', 'return (' + o.until + ');');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skyrelay-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 960, height: 640 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  let ok = false;
  let v = null;
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => out({ console: m.type(), text: m.text(), t: Date.now() }));
    page.on('pageerror', (e) => out({ pageerror: String(e) }));
    if (o.html) {
      await page.route(o.url, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: o.html }));
    }
    await page.goto(o.url);
    const deadline = Date.now() + o.timeoutMs;
    while (Date.now() < deadline) {
      v = await page.evaluate(o.probe);
      out({ probe: v, t: Date.now() });
      if (until(v)) { ok = true; break; }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (o.screenshot) await page.screenshot({ path: o.screenshot });
  } catch (e) {
    out({ error: String(e) });
  } finally {
    out({ done: ok, probe: v });
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
})();
