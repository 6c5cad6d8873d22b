#!/usr/bin/env node
// Masthead real-browser test suite.
//
// Starts one Masthead server on a free loopback port with a fresh data dir, drives
// Debian's Chromium through playwright-core, validates the raw HTML (and CSS) with the
// Nu Html Checker and audits accessibility with axe-core. The editorial desk's tests
// (/admin: sign-in, editor, live console) live in desk.js and run here, on the same
// server and browser, before the final console-error check.
//
//   node tests/browser/run.js
//
// Environment:
//   MASTHEAD_BIN          server binary (default /work/main/target/debug/masthead)
//   MASTHEAD_SCREENSHOTS  directory for full-page screenshots (none taken if unset)
//   CHROMIUM_BIN          chromium binary (default /usr/bin/chromium)
//   MASTHEAD_TEST_THEME_DIR  passed to `serve --theme-dir` (default: the built-in theme)
//   MASTHEAD_BROWSER_FILTER  only the tests whose names match this regular expression
//                         (while working on some; the console-error check always runs)
//
// Output: one `ok - NAME` / `not ok - NAME: REASON` line per test, then
// `browser tests: N passed, M failed`. Exit status 1 if anything failed.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn, spawnSync, execFile } = require('child_process');

const HERE = __dirname;
const BIN = process.env.MASTHEAD_BIN || '/work/main/target/debug/masthead';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SCREENSHOTS = process.env.MASTHEAD_SCREENSHOTS || '';
const VNU_JAR = path.join(HERE, 'node_modules', 'vnu-jar', 'build', 'dist', 'vnu.jar');
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const TEST_TIMEOUT_MS = 60_000;
const SUITE_TIMEOUT_MS = 480_000;
const DESKTOP = { width: 1280, height: 900 };
const MOBILE = { width: 390, height: 844 };

// Known pages of the seeded demo site.
const ARTICLE = '/tallow-flood-scheme-costs-rise/';
const LIVE = '/storm-eamon-live/';
const LIVE_SLUG = 'storm-eamon-live';
const TAG = '/tag/housing/';
const AUTHOR = '/author/helen-marsh/';
const SECTION = '/section/city/';
const JOIN = '/join/';
// A word many demo stories use: more than one page of results (on either backend).
const SEARCH = '/search/?q=council';
const SEED_MEMBERS = 1184;

// ---------------------------------------------------------------- harness --

const tests = [];
const results = [];
// `timeoutMs` overrides TEST_TIMEOUT_MS for a test that visits many pages.
function test(name, fn, timeoutMs) { tests.push({ name, fn, timeoutMs }); }
function record(name, err) {
  if (err) {
    const reason = String((err && err.message) || err).replace(/\s+/g, ' ').trim();
    console.log(`not ok - ${name}: ${reason}`);
    if (err && err.details) for (const line of err.details) console.log(`  # ${line}`);
  } else {
    console.log(`ok - ${name}`);
  }
  results.push({ name, ok: !err });
}
function info(line) { console.log(`  # ${line}`); }
class Failure extends Error {
  constructor(message, details) { super(message); this.details = details || []; }
}
function assert(cond, message, details) { if (!cond) throw new Failure(message, details); }
function assertEq(actual, expected, what) {
  if (actual !== expected) {
    throw new Failure(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------- utilities --

const tempDirs = [];
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
function removeTempDirs() {
  while (tempDirs.length) {
    const dir = tempDirs.pop();
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch (_) { /* best effort */ }
  }
}
function unique() { return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`; }
function groupThousands(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
function decodeEntities(s) {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function childEnv() {
  const env = { ...process.env, MASTHEAD_LOG: 'warn' };
  // The data dir and address are always passed explicitly; the suite tests the
  // seeded demo site with the built-in theme unless MASTHEAD_TEST_THEME_DIR says otherwise.
  for (const k of ['MASTHEAD_DATA_DIR', 'MASTHEAD_ADDR', 'MASTHEAD_THEME_DIR', 'MASTHEAD_NO_DEMO']) delete env[k];
  return env;
}

// ---------------------------------------------------------------- server --

const server = { child: null, dataDir: null, port: 0, base: '', output: '', exit: null };

// A real SMTP server (Python aiosmtpd, tests/smtp/sink.py) that the server's
// member e-mails go to; each message lands as <n>.eml in its directory.
const smtp = { child: null, dir: null, port: 0, read: new Set() };
const PYTHON = process.env.MASTHEAD_TEST_PYTHON || 'python3';

async function startSmtp() {
  smtp.dir = tempDir('masthead-smtp-');
  smtp.port = await freePort();
  const child = spawn(PYTHON, [path.join(HERE, '..', 'smtp', 'sink.py'), String(smtp.port), smtp.dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  smtp.child = child;
  let out = '';
  child.stdout.on('data', (c) => { out += c.toString(); });
  child.stderr.on('data', (c) => { out += c.toString(); });
  const deadline = Date.now() + 15_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the SMTP sink did not start (is aiosmtpd installed for ${PYTHON}?): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The next unread message to `address` (waits up to 10 s), as a mail client
// shows it: quoted-printable soft breaks undone.
async function nextMail(address) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const names = fs.readdirSync(smtp.dir).filter((n) => n.endsWith('.eml') && !smtp.read.has(n))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    for (const name of names) {
      const text = fs.readFileSync(path.join(smtp.dir, name), 'utf8');
      if (text.split('\n')[0].toLowerCase().includes(address.toLowerCase())) {
        smtp.read.add(name);
        return text.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      }
    }
    if (Date.now() > deadline) throw new Failure(`no e-mail to ${address} arrived within 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function linkAndCode(mail) {
  const link = (mail.match(/https?:\/\/\S+\/members\/\?token=[0-9a-f]{64}&action=\w+/) || [])[0];
  const code = (mail.match(/asked for it: (\d{6})/) || [])[1];
  assert(link && code, 'the e-mail has a link and a 6-digit code', [mail.slice(0, 2000)]);
  return { link, code };
}

// An Admin API token (Ghost's JWT) for a key `id:secret` made with the CLI.
function adminToken(key) {
  const [id, secret] = key.trim().split(':');
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT', kid: id })}.${b64({ iat: now, exp: now + 300, aud: '/admin/' })}`;
  const sig = require('crypto').createHmac('sha256', Buffer.from(secret, 'hex')).update(head).digest('base64url');
  return `${head}.${sig}`;
}

// A real, stateful Stripe-API server (localstripe, with the recording
// Checkout/portal stand-ins and the event signer of the Rust suite's fixture),
// which the server is pointed at; tests/browser/stripe.js drives it.
const stripe = {
  child: null, port: 0, base: '',
  key: 'sk_test_browsersuite0123456789',
  webhookSecret: 'whsec_browsersuite0123456789abcdef',
};

async function startStripe() {
  stripe.port = await freePort();
  stripe.base = `http://127.0.0.1:${stripe.port}`;
  const script = path.join(HERE, '..', '..', 'crates', 'masthead', 'tests', 'fixtures', 'stripe_server.py');
  const child = spawn(PYTHON, [script, '--port', String(stripe.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  stripe.child = child;
  let err = '';
  child.stderr.on('data', (c) => { err = (err + c.toString()).slice(-4000); });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Stripe-API server exited (are localstripe and stripe installed for ${PYTHON}?): ${err}`);
    const up = await new Promise((resolve) => {
      const sock = net.connect(stripe.port, '127.0.0.1', () => { sock.end(); resolve(true); });
      sock.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`the Stripe-API server did not start within 30 s: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startServer() {
  if (!fs.existsSync(BIN)) {
    throw new Error(`server binary ${BIN} not found (build it with \`cargo build\` or set MASTHEAD_BIN)`);
  }
  server.dataDir = tempDir('masthead-browser-data-');
  server.port = await freePort();
  server.base = `http://127.0.0.1:${server.port}`;
  await startSmtp();
  await startStripe();
  const args = ['--data-dir', server.dataDir, 'serve', '--addr', `127.0.0.1:${server.port}`,
    '--smtp-url', `smtp://127.0.0.1:${smtp.port}`, '--mail-from', 'The Aldren Courier <members@courier.example>'];
  if (process.env.MASTHEAD_TEST_THEME_DIR) args.push('--theme-dir', process.env.MASTHEAD_TEST_THEME_DIR);
  const child = spawn(BIN, args, {
    env: {
      ...childEnv(),
      MASTHEAD_STRIPE_API_BASE: stripe.base,
      MASTHEAD_STRIPE_SECRET_KEY: stripe.key,
      MASTHEAD_STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.child = child;
  server.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const keep = (chunk) => { server.output = (server.output + chunk.toString()).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  server.exit.then((e) => { exited = e; });

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited early (${JSON.stringify(exited)}):\n${server.output}`);
    if (server.output.includes('Masthead is serving')) {
      try {
        const r = await fetch(`${server.base}/healthz`);
        const body = await r.text();
        if (r.status === 200 && body.trim() === 'ok') return;
      } catch (_) { /* not up yet */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not become ready within 60 s:\n${server.output}`);
}

async function stopServer() {
  const child = server.child;
  if (!child) return null;
  server.child = null;
  if (child.exitCode !== null || child.signalCode !== null) return server.exit;
  child.kill('SIGTERM');
  let timer;
  const result = await Promise.race([server.exit, new Promise((r) => { timer = setTimeout(() => r(null), 10_000); })]);
  clearTimeout(timer);
  if (result) return result;
  child.kill('SIGKILL');
  await server.exit;
  return { code: null, signal: 'SIGKILL', timedOut: true };
}

// Runs the CLI against the running server's data dir; `input` (if given) is its stdin.
function runCli(args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile(BIN, ['--data-dir', server.dataDir, ...args], { env: childEnv(), timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`\`masthead ${args.join(' ')}\` failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

async function get(pathname, opts = {}) {
  const r = await fetch(new URL(pathname, server.base), { redirect: 'manual', ...opts });
  return { status: r.status, headers: r.headers, text: await r.text() };
}
async function campaign() {
  const r = await get('/api/campaign', { headers: { 'cache-control': 'no-cache' } });
  assertEq(r.status, 200, 'GET /api/campaign status');
  return JSON.parse(r.text);
}
function feedIdsFromHtml(html) {
  const start = html.search(/<ol\b[^>]*\bdata-feed\b/);
  assert(start >= 0, 'server page has no <ol data-feed>');
  const end = html.indexOf('</ol>', start);
  return [...html.slice(start, end).matchAll(/data-post-id="(\d+)"/g)].map((m) => m[1]);
}
let videoPathCache = null;
async function videoPath() {
  if (videoPathCache) return videoPathCache;
  const r = await get('/video/');
  assertEq(r.status, 200, 'GET /video/ status');
  const m = r.text.match(/class="card__title"><a href="([^"]+)"/);
  assert(m, '/video/ lists no video cards');
  videoPathCache = decodeEntities(m[1]);
  return videoPathCache;
}

// --------------------------------------------------------------- browser --

let playwright = null;
let mainCtx = null;     // persistent context: JS on, strict CSP (the real reader experience)
let browser = null;
const consoleProblems = [];

function watch(page, label) {
  page.expected4xx = []; // [{status, path}] responses requested on purpose
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const loc = msg.location() || {};
    const m = text.match(/status of (\d{3})/);
    if (m && loc.url) {
      let p = '';
      try { p = new URL(loc.url).pathname; } catch (_) { /* keep empty */ }
      if (page.expected4xx.some((e) => e.status === Number(m[1]) && e.path === p)) return;
    }
    consoleProblems.push(`[${label}] console error on ${page.url()}: ${text}${loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
  });
  page.on('pageerror', (err) => {
    consoleProblems.push(`[${label}] page error on ${page.url()}: ${err && err.message}`);
  });
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);
  return page;
}
async function openPage(ctx, label, viewport = DESKTOP) {
  const page = watch(await ctx.newPage(), label);
  await page.setViewportSize(viewport);
  return page;
}
async function goto(page, pathname, status = 200) {
  const resp = await page.goto(server.base + pathname, { waitUntil: 'load' });
  assert(resp, `no response navigating to ${pathname}`);
  assertEq(resp.status(), status, `status of ${pathname}`);
  return resp;
}
async function closeQuietly(...things) {
  for (const t of things) { try { if (t) await t.close(); } catch (_) { /* already gone */ } }
}

async function launchBrowser() {
  try {
    playwright = require('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed in ${HERE} (run npm ci there): ${e.message}`);
  }
  const profile = tempDir('masthead-browser-profile-');
  mainCtx = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: DESKTOP,
  });
  browser = mainCtx.browser();
  if (!browser) throw new Error('persistent context has no Browser handle to create extra contexts');
  for (const p of mainCtx.pages()) await p.close(); // the blank start page
}

// ---------------------------------------------------------------- checks --

// Runs the Nu Html Checker on files (HTML, and CSS for *.css); warnings are printed,
// any error fails the calling test with one detail line per message.
async function vnuCheck(files) {
  const out = await new Promise((resolve, reject) => {
    execFile('java', ['-Xss4m', '-jar', VNU_JAR, '--format', 'json', '--exit-zero-always', '--also-check-css', ...files],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`vnu failed: ${err.message}\n${stderr}`));
        else resolve(stderr || stdout);
      });
  });
  let report;
  try { report = JSON.parse(out); } catch (e) { throw new Error(`cannot parse vnu output: ${out.slice(0, 500)}`); }
  const where = (m) => `${path.basename(decodeURIComponent((m.url || '').replace(/^file:/, '')))}:${m.lastLine || m.firstLine || '?'}`;
  const errors = report.messages.filter((m) => m.type === 'error' || m.type === 'non-document-error');
  for (const m of report.messages.filter((x) => x.type !== 'error' && x.type !== 'non-document-error')) {
    info(`vnu ${m.subType || m.type}: ${where(m)}: ${m.message}`);
  }
  assert(errors.length === 0, `${errors.length} Nu checker error(s) in ${files.length} files`,
    errors.slice(0, 60).map((m) => `${where(m)}: ${m.message}${m.extract ? `  [${m.extract.replace(/\s+/g, ' ').trim()}]` : ''}`));
}

// Runs axe-core on the page as it is now; returns the violations.
let axeSourceCache = null;
async function axeViolations(page) {
  if (!axeSourceCache) axeSourceCache = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSourceCache);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
}

async function domFeedIds(page) {
  return page.$$eval('ol[data-feed] > li[data-post-id]', (lis) => lis.map((li) => li.dataset.postId));
}
function duplicates(ids) {
  const seen = new Set();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

test('Show More appends the next 20 cards in place (JavaScript, 1280 px)', async () => {
  const page = await openPage(mainCtx, 'show-more');
  try {
    await goto(page, '/');
    const startUrl = page.url();
    const marker = unique();
    await page.evaluate((m) => { window.__mastheadMarker = m; }, marker);
    let ids = await domFeedIds(page);
    assertEq(ids.length, 20, 'cards on the first page');
    assertEq(duplicates(ids).length, 0, 'duplicate ids on the first page');

    for (const round of [2, 3]) {
      const href = await page.getAttribute('a[data-more]', 'href');
      assert(href && /[?&]after=/.test(href), `Show More href looks wrong: ${href}`);
      // What the server shows a reader without JavaScript at that link.
      const noJs = await get(href);
      assertEq(noJs.status, 200, `GET ${href} status`);
      const expected = feedIdsFromHtml(noJs.text);
      assertEq(expected.length, 20, `cards on the no-JS page ${href}`);

      const fragmentRequest = page.waitForRequest((r) => r.url().includes('fragment=1'));
      await page.click('a[data-more]');
      await fragmentRequest;
      await page.waitForFunction(
        (n) => document.querySelectorAll('ol[data-feed] > li[data-post-id]').length >= n
          && document.querySelector('a[data-more]')?.getAttribute('aria-busy') !== 'true',
        20 * round,
      );
      const before = ids;
      ids = await domFeedIds(page);
      assertEq(ids.length, 20 * round, `cards after Show More click ${round - 1}`);
      assertEq(page.url(), startUrl, 'URL after Show More');
      const dups = duplicates(ids);
      assert(dups.length === 0, `duplicate cards after click ${round - 1}: ${dups.join(', ')}`);
      const added = ids.slice(before.length);
      const overlap = added.filter((id) => before.includes(id));
      assert(overlap.length === 0, `appended cards repeat earlier ones: ${overlap.join(', ')}`);
      assertEq(before.join(','), ids.slice(0, before.length).join(','), 'earlier cards kept in order');
      assertEq(added.join(','), expected.join(','), `appended ids vs server page ${href}`);
      // Appended cards are real cards with a title link.
      const titled = await page.$$eval('ol[data-feed] > li[data-post-id] h2.card__title a', (as) => as.length);
      assertEq(titled, ids.length, 'cards with an h2.card__title link');
    }
    const nav = await page.evaluate(() => ({
      marker: window.__mastheadMarker, navs: performance.getEntriesByType('navigation').length,
    }));
    assertEq(nav.marker, marker, 'window marker (page was reloaded)');
    assertEq(nav.navs, 1, 'navigation entries');
  } finally {
    await closeQuietly(page);
  }
});

test('Show More without JavaScript is a link to the next page', async () => {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
  try {
    const page = await openPage(ctx, 'show-more-nojs');
    await goto(page, '/');
    const first = await domFeedIds(page);
    assertEq(first.length, 20, 'cards on the first page (no JS)');
    const href = await page.getAttribute('a[data-more]', 'href');
    assert(href && /[?&]after=/.test(href), `Show More href looks wrong: ${href}`);
    const expected = feedIdsFromHtml((await get(href)).text);
    const [resp] = await Promise.all([
      page.waitForNavigation({ url: /[?&]after=/ }),
      page.click('a[data-more]'),
    ]);
    assertEq(resp && resp.status(), 200, 'status of the next page');
    assertEq(page.url(), new URL(href, server.base).toString(), 'URL after clicking Show More');
    const next = await domFeedIds(page);
    assertEq(next.length, 20, 'cards on the next page');
    assertEq(next.join(','), expected.join(','), 'ids on the next page vs server');
    const overlap = next.filter((id) => first.includes(id));
    assert(overlap.length === 0, `next page repeats cards of the first: ${overlap.join(', ')}`);
    const bad = await get('/?after=garbage');
    assertEq(bad.status, 400, 'status of /?after=garbage');
  } finally {
    await closeQuietly(ctx);
  }
});

test('Joining by a confirmed e-mail raises the member counter everywhere, once per address', async () => {
  const pageA = await openPage(mainCtx, 'join-A');
  const pageB = await openPage(mainCtx, 'join-B');
  try {
    await goto(pageA, '/');
    const start = await campaign();
    assertEq(start.count, SEED_MEMBERS, 'seeded member count from /api/campaign');
    const shownA = (await pageA.textContent('[data-drive-count]')).trim();
    assertEq(shownA, groupThousands(SEED_MEMBERS), 'counter on page A');
    const barA = await pageA.$eval('progress[data-drive-bar]', (p) => ({ max: p.max, value: p.value }));
    assertEq(barA.value, SEED_MEMBERS, 'progress value on page A');
    assertEq(barA.max, start.goal, 'progress max on page A');

    const want = groupThousands(SEED_MEMBERS + 1);
    const email = `reader.${unique()}@example.com`;
    await goto(pageB, JOIN);
    await pageB.fill('#join-email', email);
    await Promise.all([
      pageB.waitForURL(/\/members\/check\/\?ref=[0-9a-f]{64}$/),
      pageB.click('form[action="/join/"] [type=submit]'),
    ]);
    const heading = (await pageB.textContent('main h1')).trim();
    assert(heading.includes('Check your inbox'), `check-your-inbox heading missing, got "${heading}"`);
    assert(!pageB.url().toLowerCase().includes('example.com'), 'no address in the URL');
    assertEq((await campaign()).count, SEED_MEMBERS, '/api/campaign count before the address is confirmed');
    // The confirmation, from the real SMTP server: the link makes the member.
    const { link } = linkAndCode(await nextMail(email));
    await Promise.all([pageB.waitForURL(/\/account\/\?welcome=1$/), pageB.goto(link)]);
    const submittedAt = Date.now();
    const welcome = (await pageB.textContent('main')).trim();
    assert(welcome.includes('Your membership is confirmed'), `welcome missing, got "${welcome.slice(0, 200)}"`);
    const countsB = await pageB.$$eval('[data-drive-count]', (els) => els.map((e) => e.textContent.trim()));
    assert(countsB.every((c) => c === want),
      `page B counters should all read ${want}, got ${JSON.stringify(countsB)}`);
    assertEq((await campaign()).count, SEED_MEMBERS + 1, '/api/campaign count after confirming');

    // Page A was opened before the join and must catch up without a reload; a
    // reader without JavaScript loading / afterwards must see the new count soon
    // too (the server's page cache may lag a few seconds by design).
    const pageACatchesUp = (async () => {
      try {
        await pageA.waitForFunction(
          (w) => [...document.querySelectorAll('[data-drive-count]')].every((e) => e.textContent.trim() === w),
          want, { timeout: 8_000 },
        );
      } catch (_) {
        const now = await pageA.textContent('[data-drive-count]');
        throw new Failure(`page A counter still reads "${now.trim()}" 8 s after joining (want ${want})`);
      }
      return Date.now() - submittedAt;
    })();
    const freshLoadCatchesUp = (async () => {
      const deadline = submittedAt + 8_000;
      let shown = null;
      for (;;) {
        const m = (await get('/')).text.match(/<strong data-drive-count>([^<]*)</);
        shown = m && m[1].trim();
        if (shown === want) return Date.now() - submittedAt;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Failure(`GET / still prints "${shown}" members 8 s after joining (want ${want})`);
    })();
    const [lagA, lagFresh] = await Promise.all([pageACatchesUp, freshLoadCatchesUp]);
    info(`page A counter updated ${lagA} ms after the join; a fresh GET / printed it after ${lagFresh} ms`);
    const afterA = await pageA.evaluate(() => ({
      navs: performance.getEntriesByType('navigation').length,
      bar: document.querySelector('progress[data-drive-bar]').value,
    }));
    assertEq(afterA.navs, 1, 'page A navigation entries (it must not reload)');
    assertEq(afterA.bar, SEED_MEMBERS + 1, 'page A progress value');

    // Same address, different case: still one member (the e-mail signs in).
    await goto(pageB, JOIN);
    await pageB.fill('#join-email', email.toUpperCase());
    await Promise.all([
      pageB.waitForURL(/\/members\/check\/\?ref=/),
      pageB.click('form[action="/join/"] [type=submit]'),
    ]);
    assert((await nextMail(email)).includes('Sign in to'), 'a member joining again gets a sign-in e-mail');
    assertEq((await campaign()).count, SEED_MEMBERS + 1, '/api/campaign count after re-joining in upper case');

    // An invalid address is refused with an error the reader is told about.
    await goto(pageB, JOIN);
    pageB.expected4xx.push({ status: 422, path: '/join/' });
    await pageB.fill('#join-email', 'not-an-email');
    const [resp] = await Promise.all([
      pageB.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/join/'),
      pageB.click('form[action="/join/"] [type=submit]'),
    ]);
    assertEq(resp.status(), 422, 'status of POST /join/ with an invalid address');
    await pageB.waitForLoadState('load');
    const alert = await pageB.waitForSelector('[role=alert]', { state: 'visible' });
    const alertText = (await alert.textContent()).trim();
    assert(alertText.length > 0, 'the role=alert error is empty');
    assertEq(await pageB.getAttribute('#join-email', 'aria-invalid'), 'true', 'aria-invalid on the e-mail field');
    assertEq((await campaign()).count, SEED_MEMBERS + 1, '/api/campaign count after an invalid address');
  } finally {
    await closeQuietly(pageA, pageB);
  }
});

test('Members read members-only stories in full, sign out to the teaser, sign in again with the code, and unsubscribe in one click', async () => {
  const key = await runCli(['key', 'create', 'admin', '--name', 'browser-members']);
  const secret = 'the harbour board voted seven to two';
  const created = await get('/ghost/api/admin/posts/?source=html', {
    method: 'POST',
    headers: { authorization: `Ghost ${adminToken(key)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ posts: [{
      title: 'Harbour vote', slug: 'harbour-vote-members', status: 'published', visibility: 'members',
      html: `<p>The ferry timetable changes in spring.</p><p>The board met on Tuesday.</p><p>Only members read that ${secret}.</p>`,
    }] }),
  });
  assertEq(created.status, 201, 'status of the members-only post from the Admin API');
  const story = '/harbour-vote-members/';
  // The join test above left a member signed in: start anonymous.
  await mainCtx.clearCookies();
  const page = await openPage(mainCtx, 'members');
  try {
    await goto(page, story);
    assert(!(await page.textContent('main')).includes(secret), 'anonymous readers see the teaser');
    await page.waitForSelector('#gate-h', { state: 'visible' });
    const email = `member.${unique()}@example.com`;
    await goto(page, JOIN);
    await page.fill('#join-email', email);
    await Promise.all([page.waitForURL(/\/members\/check\//), page.click('form[action="/join/"] [type=submit]')]);
    const { link } = linkAndCode(await nextMail(email));
    await Promise.all([page.waitForURL(/\/account\//), page.goto(link)]);
    await goto(page, story);
    assert((await page.textContent('main')).includes(secret), 'a member reads the story in full');
    assertEq(await page.$('#gate-h'), null, 'no sign-up box for a member');
    // Sign out: the teaser again.
    await goto(page, '/account/');
    await Promise.all([page.waitForURL(`${server.base}/`), page.click('form[action="/account/signout"] [type=submit]')]);
    await goto(page, story);
    assert(!(await page.textContent('main')).includes(secret), 'signed out: the teaser');
    // Sign in again with the code typed on the page that asked for it.
    await goto(page, '/signin/');
    await page.fill('#member-email', email);
    await Promise.all([page.waitForURL(/\/members\/check\//), page.click('form[action="/signin/"] [type=submit]')]);
    const { code } = linkAndCode(await nextMail(email));
    await page.fill('#member-code', code);
    await Promise.all([page.waitForURL(`${server.base}/`), page.click('form[action="/members/check/"] [type=submit]')]);
    await goto(page, story);
    assert((await page.textContent('main')).includes(secret), 'signed in by code: the story in full');

    // A story published and sent to the default newsletter reaches the member.
    const sent = await get('/ghost/api/admin/posts/?source=html&newsletter=default-newsletter&email_segment=all', {
      method: 'POST',
      headers: { authorization: `Ghost ${adminToken(key)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ posts: [{
        title: 'Ferry timetable', slug: `ferry-timetable-${unique()}`, status: 'published',
        html: '<p>The spring timetable adds a late crossing on Fridays.</p>',
      }] }),
    });
    assertEq(sent.status, 201, 'status of publishing and sending through the Admin API');
    const letter = (await nextMail(email)).replace(/\r?\n[ \t]+/g, ' ');
    assert(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/mi.test(letter), 'the RFC 8058 header');
    const header = (letter.match(/^List-Unsubscribe: (.*)$/mi) || [])[1] || '';
    const oneClick = (header.match(/<(https?:[^>]+)>/) || [])[1];
    assert(oneClick && /<mailto:/.test(header), 'List-Unsubscribe names an https and a mailto address', [header]);
    const visible = decodeEntities((letter.match(/href="(https?:\/\/[^"]*\/unsubscribe\/\?t=[^"]+)"/) || [])[1] || '');
    assert(visible, 'the HTML part has a visible unsubscribe link');
    // Opening the link (as a link scanner would) only asks.
    await goto(page, new URL(visible).pathname + new URL(visible).search);
    assert(await page.$('form[action^="/unsubscribe/"] [type=submit]'), 'the unsubscribe page asks with a button');
    await goto(page, '/account/');
    assert(await page.isChecked('input[name="newsletter"]'), 'still subscribed after only opening the link');
    // The mail client's one click: a POST with no cookie and no CSRF token.
    const res = await fetch(oneClick, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    assertEq(res.status, 200, 'status of the one-click unsubscribe');
    await goto(page, '/account/');
    assert(!(await page.isChecked('input[name="newsletter"]')), 'unsubscribed: the account page shows the choice cleared');
  } finally {
    await closeQuietly(page);
    await mainCtx.clearCookies();
  }
});

test('Live entries arrive over SSE without a reload', async () => {
  const page = await openPage(mainCtx, 'live');
  try {
    await goto(page, LIVE);
    const marker = unique();
    await page.evaluate((m) => { window.__mastheadMarker = m; }, marker);
    try {
      await page.waitForFunction(() => /Live/.test(document.querySelector('[data-live-status]')?.textContent || ''),
        null, { timeout: 10_000 });
    } catch (_) {
      const s = await page.textContent('[data-live-status]').catch(() => '(missing)');
      throw new Failure(`EventSource never opened; [data-live-status] reads "${(s || '').trim()}"`);
    }
    const count = () => page.evaluate(() => ({
      stream: document.querySelectorAll('ol[data-live-stream] > li[data-entry-id]').length,
      pinned: document.querySelectorAll('ol[data-live-pinned] > li[data-entry-id]').length,
    }));
    const before = await count();

    // Watch for an entry in the page itself so the latency is measured, not polled.
    const watchFor = (title, list) => page.evaluate(({ title, list }) => {
      window.__seen = window.__seen || {};
      const sel = `ol[${list}] > li[data-entry-id] h3.entry__title`;
      const check = () => {
        if (window.__seen[title]) return;
        for (const h of document.querySelectorAll(sel)) {
          if (h.textContent.trim() === title) { window.__seen[title] = Date.now(); return; }
        }
      };
      new MutationObserver(check).observe(document.querySelector(`ol[${list}]`), { childList: true, subtree: true });
      check();
    }, { title, list });

    const title = `Browser test update ${unique()}`;
    await watchFor(title, 'data-live-stream');
    await runCli(['live', 'add', '--post', LIVE_SLUG, '--title', title, '--body', 'Posted by the **browser suite**.']);
    const cliDone = Date.now();
    try {
      await page.waitForFunction((t) => {
        const h = document.querySelector('ol[data-live-stream] > li[data-entry-id] h3.entry__title');
        return h && h.textContent.trim() === t;
      }, title, { timeout: 3_000 });
    } catch (_) {
      const top = await page.textContent('ol[data-live-stream] > li[data-entry-id] h3.entry__title').catch(() => null);
      throw new Failure(`new entry not first in the stream 3 s after the CLI returned (first is "${top && top.trim()}")`);
    }
    const seen = await page.evaluate((t) => window.__seen[t], title);
    const latency = seen - cliDone;
    info(`live entry shown ${latency} ms after \`masthead live add\` returned (target < 1000 ms)`);
    const after = await count();
    assertEq(after.stream, before.stream + 1, 'entries in the stream');
    const bodyHtml = await page.$eval('ol[data-live-stream] > li[data-entry-id]', (li) => li.innerHTML);
    assert(/<strong>browser suite<\/strong>/.test(bodyHtml), 'the entry body was not rendered from Markdown');

    const pinnedTitle = `Browser test key development ${unique()}`;
    await watchFor(pinnedTitle, 'data-live-pinned');
    await runCli(['live', 'add', '--post', LIVE_SLUG, '--title', pinnedTitle, '--body', 'Pinned by the browser suite.', '--pinned']);
    const pinnedDone = Date.now();
    try {
      await page.waitForFunction((t) => {
        const h = document.querySelector('ol[data-live-pinned] > li[data-entry-id] h3.entry__title');
        return h && h.textContent.trim() === t;
      }, pinnedTitle, { timeout: 3_000 });
    } catch (_) {
      throw new Failure('pinned entry not first in ol[data-live-pinned] 3 s after the CLI returned');
    }
    info(`pinned entry shown ${(await page.evaluate((t) => window.__seen[t], pinnedTitle)) - pinnedDone} ms after the CLI returned`);
    const final = await count();
    assertEq(final.pinned, before.pinned + 1, 'pinned entries');
    assertEq(final.stream, before.stream + 1, 'stream entries after adding a pinned one');
    const inStream = await page.$$eval('ol[data-live-stream] h3.entry__title',
      (hs, t) => hs.some((h) => h.textContent.trim() === t), pinnedTitle);
    assert(!inStream, 'the pinned entry also appeared in the stream');
    assert(await page.isVisible('[data-live-pinned-section]'), 'the key developments section is hidden');

    const nav = await page.evaluate(() => ({
      marker: window.__mastheadMarker, navs: performance.getEntriesByType('navigation').length,
    }));
    assertEq(nav.marker, marker, 'window marker (page was reloaded)');
    assertEq(nav.navs, 1, 'navigation entries');
    assert(latency < 3_000, `latency ${latency} ms`);

    // A reader who loads the page now (no JavaScript) gets both entries from the server.
    const deadline = Date.now() + 2_000;
    let html = '';
    for (;;) {
      html = (await get(LIVE)).text;
      if (html.includes(title) && html.includes(pinnedTitle)) break;
      if (Date.now() > deadline) {
        throw new Failure(`GET ${LIVE} still lacks the new ${html.includes(title) ? 'pinned entry' : 'entry'} 2 s after the browser showed it`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await closeQuietly(page);
  }
});

test('Raw HTML of every page type (and the CSS) passes the Nu Html Checker', async () => {
  const dir = tempDir('masthead-vnu-');
  const video = await videoPath();
  const home = await get('/');
  const pages = [
    ['home', '/', 200],
    ['home-page-2', decodeEntities(home.text.match(/href="([^"]*after=[^"]*)"/)[1]), 200],
    ['article', ARTICLE, 200],
    ['live', LIVE, 200],
    ['video', video, 200],
    ['tag', TAG, 200],
    ['author', AUTHOR, 200],
    ['section', SECTION, 200],
    ['join', JOIN, 200],
    ['support', '/support/', 200],
    ['support-thanks', '/support/thanks/?session_id=cs_test_unknown', 200],
    ['search', SEARCH, 200],
    ['search-empty', '/search/', 200],
    ['search-too-long', `/search/?q=${'x'.repeat(300)}`, 400],
    ['not-found', '/no-such-page/', 404],
  ];
  pages.push(['search-filtered', '/search/?q=%22city+council%22+-budget&kind=article&tag=council&from=2020-01-01&to=2030-12-31', 200]);
  const searched = await get(SEARCH);
  const more = searched.text.match(/href="([^"]*after=[^"]*)" rel="next"/);
  assert(more, 'the search for council has no "More results" link');
  pages.push(['search-page-2', decodeEntities(more[1]), 200]);
  const files = [];
  for (const [name, p, status] of pages) {
    const r = await get(p);
    assertEq(r.status, status, `status of ${p}`);
    const file = path.join(dir, `${name}.html`);
    fs.writeFileSync(file, r.text);
    files.push(file);
  }
  const bad = await get(JOIN, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'email=not-an-email',
  });
  assertEq(bad.status, 422, 'status of POST /join/ with an invalid address');
  assert(/role="alert"/.test(bad.text), 'the 422 join page has no role="alert" error');
  fs.writeFileSync(path.join(dir, 'join-error.html'), bad.text);
  files.push(path.join(dir, 'join-error.html'));
  for (const [name, p] of [['signin', '/signin/'], ['check', `/members/check/?ref=${'ab'.repeat(32)}`]]) {
    const r = await get(p);
    assertEq(r.status, 200, `status of ${p}`);
    fs.writeFileSync(path.join(dir, `${name}.html`), r.text);
    files.push(path.join(dir, `${name}.html`));
  }

  const cssHref = decodeEntities(home.text.match(/<link rel="stylesheet" href="([^"]+)"/)[1]);
  const css = await get(cssHref);
  assertEq(css.status, 200, `status of ${cssHref}`);
  fs.writeFileSync(path.join(dir, 'site.css'), css.text);
  files.push(path.join(dir, 'site.css'));

  await vnuCheck(files);
  info(`vnu checked ${files.length} files (${pages.length + 2} HTML pages + site.css)`);
});

test('axe-core finds no serious or critical violations at 1280 and 390 px', async () => {
  const ctx = await browser.newContext({ bypassCSP: true, viewport: DESKTOP });
  const found = [];
  let audits = 0;
  try {
    const page = await openPage(ctx, 'axe');
    const targets = ['/', ARTICLE, LIVE, await videoPath(), TAG, AUTHOR, JOIN, SEARCH, '/search/'];
    for (const viewport of [DESKTOP, MOBILE]) {
      await page.setViewportSize(viewport);
      for (const p of targets) {
        await goto(page, p);
        const violations = await axeViolations(page);
        audits++;
        for (const v of violations) {
          const line = `${p} @${viewport.width}px ${v.impact} ${v.id} (${v.help}): ${v.nodes.length} node(s): ${v.nodes.slice(0, 5).map((n) => n.target).join(' | ')}`;
          if (v.impact === 'serious' || v.impact === 'critical') {
            found.push(line);
            for (const n of v.nodes.slice(0, 5)) found.push(`    ${n.target}: ${(n.summary || '').replace(/\s+/g, ' ')}`);
          } else {
            info(`axe ${line}`);
          }
        }
      }
    }
  } finally {
    await closeQuietly(ctx);
  }
  assert(found.length === 0, `serious/critical axe violations in ${audits} audits`, found);
  info(`axe ran ${audits} audits`);
});

test('Pages load nothing from other origins', async () => {
  const page = await openPage(mainCtx, 'self-contained');
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), page: page.url() }));
  try {
    for (const p of ['/', ARTICLE, LIVE, await videoPath()]) {
      for (const viewport of [DESKTOP, MOBILE]) {
        await page.setViewportSize(viewport);
        await goto(page, p);
        // Bring every lazy image into view, then wait until they have all loaded.
        await page.evaluate(async () => {
          const step = Math.max(200, window.innerHeight - 100);
          for (let y = 0; y < document.documentElement.scrollHeight; y += step) {
            window.scrollTo(0, y);
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          }
          window.scrollTo(0, 0);
        });
        await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 10_000 });
      }
    }
  } finally {
    await closeQuietly(page);
  }
  const origin = server.base;
  const foreign = requests.filter((r) => !(r.url === origin || r.url.startsWith(`${origin}/`) || r.url.startsWith('data:')));
  assert(foreign.length === 0, `${foreign.length} request(s) to other origins`,
    foreign.map((r) => `${r.url} (from ${r.page})`));
  const kinds = new Set(requests.map((r) => r.url.replace(/\?.*$/, '').split('.').pop()));
  assert(kinds.has('css') && kinds.has('js'), 'no stylesheet or script requests were recorded at all');
  info(`${requests.length} requests, all to ${origin} or data:`);
});

test('No horizontal scrolling at 390 px; screenshots', async () => {
  const page = await openPage(mainCtx, 'responsive', MOBILE);
  const problems = [];
  try {
    for (const p of ['/', ARTICLE, LIVE, await videoPath(), JOIN, SEARCH]) {
      await goto(page, p);
      const w = await page.evaluate(() => ({
        doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        // Elements sticking out on the right, ignoring those inside a scroll/clip container.
        wide: [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .filter((el) => {
            for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
              if (getComputedStyle(a).overflowX !== 'visible') return false;
            }
            return true;
          })
          .slice(0, 5)
          .map((el) => `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).trim().split(/\s+/).join('.')}` : ''} (right ${Math.round(el.getBoundingClientRect().right)})`),
      }));
      if (w.doc > MOBILE.width) problems.push(`${p}: scrollWidth ${w.doc} > ${MOBILE.width}; widest: ${w.wide.join(', ')}`);
    }
    if (SCREENSHOTS) {
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      const shots = [['home', '/'], ['article', ARTICLE], ['live', LIVE]];
      for (const viewport of [MOBILE, DESKTOP]) {
        await page.setViewportSize(viewport);
        for (const [name, p] of shots) {
          await goto(page, p);
          // Make lazy images load before the full-page capture.
          await page.evaluate(() => document.querySelectorAll('img[loading=lazy]').forEach((i) => { i.loading = 'eager'; }));
          await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 10_000 });
          const file = path.join(SCREENSHOTS, `${name}-${viewport.width}.png`);
          await page.screenshot({ path: file, fullPage: true });
        }
      }
      info(`screenshots written to ${SCREENSHOTS}`);
    }
  } finally {
    await closeQuietly(page);
  }
  assert(problems.length === 0, 'pages scroll sideways at 390 px', problems);
});

test('Search works without JavaScript: the header box, filters and "More results"', async () => {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
  try {
    const page = await openPage(ctx, 'search-no-js');
    await goto(page, ARTICLE);
    await page.fill('#masthead-search', 'council');
    await Promise.all([page.waitForURL(/\/search\/\?q=council/), page.press('#masthead-search', 'Enter')]);
    const first = await page.$$eval('.search__results [data-post-id]', (els) => els.map((e) => e.dataset.postId));
    assertEq(first.length, 20, 'results on the first page');
    const marks = await page.$$eval('.search__results mark', (els) => els.map((e) => e.textContent.toLowerCase()));
    assert(marks.length > 0 && marks.every((m) => m.startsWith('council')), 'matches are marked', marks.slice(0, 5));
    await Promise.all([page.waitForURL(/after=/), page.click('a[rel="next"]')]);
    const second = await page.$$eval('.search__results [data-post-id]', (els) => els.map((e) => e.dataset.postId));
    assert(second.length > 0, 'the second page is empty');
    assert(second.every((id) => !first.includes(id)), 'a result repeats on the second page', second);
    // Filters: only videos.
    await goto(page, '/search/?q=harbour');
    await page.click('.search__filters summary');
    await page.selectOption('#search-kind', 'video');
    await Promise.all([page.waitForURL(/kind=video/), page.click('.search__form button[type=submit]')]);
    const labels = await page.$$eval('.search__results .card__label', (els) => els.map((e) => e.textContent.trim()));
    assert(labels.length > 0 && labels.every((l) => /video/i.test(l)), 'only videos with kind=video', labels);
  } finally {
    await closeQuietly(ctx);
  }
});

// The editorial desk (/admin): sign-in, the editor, the live console. Same server,
// browser and harness; registered here so the console-error check below covers it.
require('./desk.js')({
  test, assert, assertEq, Failure, info, unique, decodeEntities, tempDir,
  server, get, runCli, openPage, goto, closeQuietly, vnuCheck, axeViolations,
  browser: () => browser, mainCtx: () => mainCtx,
  DESKTOP, MOBILE, LIVE,
});

// The rich-text story editor (/admin/editor.js): its own signed-in context.
require('./editor.js')({
  test, assert, assertEq, Failure, info, unique, decodeEntities,
  server, get, runCli, openPage, goto, closeQuietly,
  browser: () => browser, mainCtx: () => mainCtx,
  DESKTOP,
});

// Paid memberships: Subscribe → Checkout → signed events → the paid story.
require('./stripe.js')({
  test, assert, assertEq, Failure, unique, server, stripe, get, runCli, openPage, goto, closeQuietly,
  nextMail, linkAndCode, adminToken,
  browser: () => browser,
  DESKTOP,
});

test('No console errors or uncaught page errors during the tests', async () => {
  assert(consoleProblems.length === 0, `${consoleProblems.length} console/page error(s)`, consoleProblems.slice(0, 60));
});

// ------------------------------------------------------------------ main --

function preflight() {
  const missing = [];
  if (!fs.existsSync(CHROMIUM)) missing.push(`chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) missing.push('java not found on PATH (apt-get install -y default-jre-headless)');
  if (!fs.existsSync(VNU_JAR)) missing.push(`Nu checker jar missing at ${VNU_JAR} (run npm ci in ${HERE})`);
  try { require.resolve('axe-core/axe.min.js'); } catch (_) { missing.push(`axe-core is not installed in ${HERE} (run npm ci there)`); }
  return missing;
}

let cleanedUp = false;
let interrupted = false;
async function cleanup() {
  if (cleanedUp) return null;
  cleanedUp = true;
  await closeQuietly(mainCtx);
  const exit = await stopServer();
  if (smtp.child) { smtp.child.kill('SIGTERM'); smtp.child = null; }
  if (stripe.child) { stripe.child.kill('SIGTERM'); stripe.child = null; }
  removeTempDirs();
  return exit;
}
function emergencyCleanup() {
  if (server.child) { try { server.child.kill('SIGKILL'); } catch (_) { /* gone */ } }
  if (smtp.child) { try { smtp.child.kill('SIGKILL'); } catch (_) { /* gone */ } smtp.child = null; }
  if (stripe.child) { try { stripe.child.kill('SIGKILL'); } catch (_) { /* gone */ } stripe.child = null; }
  removeTempDirs();
}
process.on('exit', emergencyCleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    record(`interrupted by ${sig}`, new Error('the suite was stopped before it finished'));
    cleanup().finally(() => {
      console.log(`browser tests: ${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length} failed`);
      process.exit(1);
    });
  });
}

async function main() {
  const started = Date.now();
  const watchdog = setTimeout(() => {
    console.log(`not ok - the suite exceeded ${SUITE_TIMEOUT_MS / 1000} s and was stopped`);
    console.log(`browser tests: ${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    emergencyCleanup();
    process.exit(1);
  }, SUITE_TIMEOUT_MS);
  watchdog.unref();

  let setupError = null;
  const missing = preflight();
  if (missing.length) {
    setupError = new Failure(`required tools are missing: ${missing.join('; ')}`);
  } else {
    try {
      await startServer();
      await launchBrowser();
    } catch (e) {
      setupError = e;
    }
  }
  if (setupError) {
    record('setup (server, chromium, java)', setupError);
  } else {
    const only = process.env.MASTHEAD_BROWSER_FILTER ? new RegExp(process.env.MASTHEAD_BROWSER_FILTER) : null;
    for (const t of tests) {
      if (interrupted) break;
      if (only && !only.test(t.name) && !/^No console errors/.test(t.name)) continue;
      try {
        await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs || TEST_TIMEOUT_MS, t.name);
        record(t.name, null);
      } catch (e) {
        if (!interrupted) record(t.name, e);
      }
    }
  }

  if (interrupted) return; // the signal handler cleans up and prints the summary
  const exit = await cleanup();
  if (!setupError) {
    const clean = exit && exit.code === 0;
    record('server exits 0 on SIGTERM',
      clean ? null : new Failure(`server exit: ${JSON.stringify(exit)}`, server.output.split('\n').slice(-10)));
  } else if (server.output) {
    for (const line of server.output.split('\n').slice(-20)) info(`server: ${line}`);
  }
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`  # took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`browser tests: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`not ok - suite crashed: ${e && e.stack}`);
  cleanup().finally(() => {
    console.log(`browser tests: ${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    process.exit(1);
  });
});
