// Drives the system Chromium (playwright-core, never a downloaded browser)
// for the WHEP tests: opens whep.html on the gateway's origin, plays the
// WHEP URL and prints one JSON line per event the page reports. The Go test
// writes "quit" on stdin to DELETE the session and end the run.
//   node whep-chromium.js '{"page": "http://127.0.0.1:PORT/__whep_test.html", "whep": "...", "maxMs": 60000}'
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

(async () => {
  const o = JSON.parse(process.argv[2]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skyrelay-whep-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => out({ ev: 'console', type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => out({ ev: 'error', text: String(e) }));
    await page.exposeFunction('report', (x) => out(x));
    const html = fs.readFileSync(path.join(__dirname, 'whep.html'));
    await page.route(o.page, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: html }));
    await page.goto(o.page);
    out({ ev: 'ready' });
    await page.evaluate((u) => window.play(u), o.whep);
    await new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin });
      rl.on('line', (l) => { if (l.trim() === 'quit') resolve(); });
      rl.on('close', resolve);
      setTimeout(resolve, o.maxMs || 60000);
    });
    const status = await page.evaluate(() => window.stop());
    out({ ev: 'deleted', status });
  } catch (e) {
    out({ ev: 'error', text: String((e && e.stack) || e) });
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
