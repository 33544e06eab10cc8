// The dashboard at / in real headless Chromium (Debian's chromium, driven by playwright-core;
// no browser download) against a real gridhost running the example policy: the page loads
// with no request leaving gridhost, shows the pool, follows a scale event and a pause live
// (no reload), and shows a broken policy's error with file, line and field. A screenshot is
// written outside git (GRIDHOST_TEST_ARTIFACTS, default <tmp>/gridhost-test-artifacts).
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO, freePort, request, startGridhost } from '../e2e/harness.ts';

const TOKEN = 'dashboard-test-token-5e1f';
const ARTIFACTS = process.env.GRIDHOST_TEST_ARTIFACTS ?? join(tmpdir(), 'gridhost-test-artifacts');

/** The example policy as shipped, on a free port and sampling every second (so the test is quick). */
function examplePolicy(lbPort: number): string {
  const text = readFileSync(join(REPO, 'policies', 'web.yaml'), 'utf8');
  const out = text.replace(/listen: 127\.0\.0\.1:8080/, `listen: 127.0.0.1:${lbPort}`).replace(/^(\s+)interval: 5s/m, '$1interval: 1s');
  if (out === text || !out.includes(`127.0.0.1:${lbPort}`) || !/^\s+interval: 1s/m.test(out)) throw new Error('policies/web.yaml changed shape: update examplePolicy()');
  return out;
}

async function launch(t: { teardown(fn: () => Promise<void>): void }): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'gridhost-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
  t.teardown(async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return ctx;
}

const post = (api: string, path: string, body: object) =>
  request(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: 60_000 });

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

test('the dashboard shows the example pool live, follows a scale event and a pause, and shows a broken policy', async (t) => {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'web.yaml': examplePolicy(lbPort) }, env: { GRIDHOST_API_TOKEN: TOKEN } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const ctx = await launch(t);
  const origin = new URL(gh.api).origin;
  const foreign: string[] = [];
  ctx.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) foreign.push(r.url());
  });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });

  const res = await page.goto(`${gh.api}/`);
  t.is(res?.status(), 200);
  t.is(await page.title(), 'gridhost');

  // The example pool with its bounds and its two guests, healthy, each with host and age.
  const card = page.locator('[data-pool="web"].pool');
  await card.waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-pool="web"] tr[data-guest] .state-healthy').length === 2, undefined, { timeout: 60_000 });
  t.is(await text(page, '[data-pool="web"] [data-size="min"] .n'), '2');
  t.is(await text(page, '[data-pool="web"] [data-size="max"] .n'), '8');
  t.is(await text(page, '[data-pool="web"] [data-size="current"] .n'), '2');
  t.is(await text(page, '[data-pool="web"] [data-mode]'), 'auto');
  // A chart per rule of the example against its target, and of the guest count.
  await page.waitForFunction(() => document.querySelectorAll('[data-pool="web"] [data-chart] path[data-series="current"]').length === 1, undefined, { timeout: 20_000 });
  const charts = await page.locator('[data-pool="web"] [data-chart]').evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')));
  // The example's rules, in policy order, as the policy file names them.
  const ruleNames = [...readFileSync(join(REPO, 'policies', 'web.yaml'), 'utf8').matchAll(/^  - name: ([a-z0-9-]+)/gm)].map((m) => m[1]);
  t.true(ruleNames.includes('rps') && ruleNames.length >= 2, `rules of policies/web.yaml: ${ruleNames.join(', ')}`);
  t.deepEqual(charts, ['guests', ...ruleNames.map((n) => `rule ${n}`)]);
  t.is(await page.locator('[data-pool="web"] [data-chart="rule rps"] path[data-series="target"]').count(), 1);

  // A scale event (set by hand through the write API) shows within seconds, without a reload.
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  const scaled = await post(gh.api, '/api/pools/web/scale', { desired: 3, by: 'dashboard-test', reason: 'campaign' });
  t.is(scaled.status, 200, scaled.body);
  const t0 = Date.now();
  // The page polls every 2 s; the wait allows for a loaded machine (the figure is logged).
  await page.waitForSelector('#events li[data-pool="web"] >> text=/scale-out 2 → 3/', { timeout: 30_000 });
  t.log(`scale event on the page ${Date.now() - t0} ms after the request`);
  await page.waitForSelector('[data-pool="web"] [data-banner="manual"]', { timeout: 10_000 });
  t.regex(await text(page, '[data-pool="web"] [data-banner="manual"]'), /Held at 3 by hand by dashboard-test.*campaign/);
  await page.waitForFunction(() => document.querySelector('[data-pool="web"] [data-size="current"] .n')?.textContent === '3', undefined, { timeout: 30_000 });
  t.is(await text(page, '[data-pool="web"] [data-mode]'), 'manual');

  // Paused: a banner saying who and why.
  t.is((await post(gh.api, '/api/pools/web/pause', { by: 'alice', reason: 'incident 42' })).status, 200);
  await page.waitForSelector('[data-pool="web"] [data-banner="paused"]', { timeout: 10_000 });
  t.regex(await text(page, '[data-pool="web"] [data-banner="paused"]'), /Paused by alice .*incident 42/);

  // mode: recommend (the file edited): a banner with the size it recommends, and that size.
  writeFileSync(join(gh.dir, 'policies', 'web.yaml'), examplePolicy(lbPort).replace(/^mode: act$/m, 'mode: recommend'));
  await page.waitForSelector('[data-pool="web"] [data-banner="recommend"]', { timeout: 15_000 });
  t.regex(await text(page, '[data-pool="web"] [data-banner="recommend"]'), /mode: recommend: gridhost recommends \d+ guests and launches and retires nothing/);
  t.regex(await text(page, '[data-pool="web"] [data-size="recommended"] .n'), /^\d+$/);

  // A policy that fails to reload: its error on the pool's card (file, line, column, field);
  // a new file that is invalid: a banner of its own.
  writeFileSync(join(gh.dir, 'policies', 'web.yaml'), examplePolicy(lbPort).replace(/^max: 8$/m, 'max: lots'));
  writeFileSync(join(gh.dir, 'policies', 'api.yaml'), 'pool: api\nmin: 2\nmax: 1\n');
  await page.waitForSelector('[data-pool="web"] [data-banner="policy-error"]', { timeout: 15_000 });
  const err = await text(page, '[data-pool="web"] [data-banner="policy-error"]');
  t.regex(err, /web\.yaml:\d+:6: max: must be an integer/);
  await page.waitForSelector('[data-banner="invalid-policy"]', { timeout: 15_000 });
  t.regex(await text(page, '[data-banner="invalid-policy"]'), /api\.yaml:\d+:\d+: /);
  t.deepEqual(navigations, [], 'nothing reloaded the page');

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.log(`screenshot: ${shot}`);
  t.deepEqual(foreign, [], 'every request went to gridhost');
  t.deepEqual(problems, []);
});

test('the page and its assets are served by gridhost with a policy that forbids outside sources', async (t) => {
  const gh = await startGridhost({ policies: {} });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const page = await request(`${gh.api}/`);
  t.is(page.status, 200);
  const res = await fetch(`${gh.api}/`);
  const csp = res.headers.get('content-security-policy') ?? '';
  t.regex(csp, /default-src 'none'/);
  for (const d of ['script-src', 'style-src', 'connect-src']) t.regex(csp, new RegExp(`${d} 'self'(;|$)`), `${d} allows gridhost only`);
  // data: URIs (the empty favicon) are not requests.
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((a) => !a.startsWith('data:'));
  t.true(assets.length >= 2);
  for (const a of assets) {
    t.false(/^[a-z]+:\/\//i.test(a) || a.startsWith('//'), `${a} is served by gridhost`);
    const r = await request(`${gh.api}/${a}`);
    t.is(r.status, 200, a);
  }
});
