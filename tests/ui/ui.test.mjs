// The /ui dashboard in a real browser: Debian's Chromium (/usr/bin/chromium,
// or $CHROMIUM) driven headless by playwright-core, against a discoveryd this
// test starts ($DISCOVERYD, else build/dev/apps/discoveryd/discoveryd).
// Screenshots go to $UI_ARTIFACTS (default build/ui-artifacts).
//
//   cd tests/ui && npm ci && node --test ui.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startDaemon } from '../support/daemon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = resolve(process.env.UI_ARTIFACTS || join(here, '../../build/ui-artifacts'));
mkdirSync(artifacts, { recursive: true });
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const COMPANIES = ['acme', 'beta', 'gamma', 'delta'];
const REGIONS = ['us-west1', 'us-central1', 'eu-west1'];
const COUNT = 1200;

describe('dashboard', () => {
  let d;
  let browser;
  let admin;
  const requests = [];  // every URL the pages asked for
  const ids = new Map();

  before(async () => {
    assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
    d = await startDaemon(['--min-check-interval', '1s']);
    admin = d.token('diamond', undefined, 'ui-admin');
    const regs = Array.from({ length: COUNT }, (_, i) => ({
      companyName: COMPANIES[i % 4],
      domain: `s${i}.${COMPANIES[i % 4]}.example.com`,
      instanceId: `i${i}`,
      tags: i % 2 ? ['gpu'] : ['beta'],
      serviceInfo: {
        version: `1.${i % 7}.0`, region: REGIONS[i % 3], environment: i % 5 ? 'production' : 'staging',
        capabilities: i % 3 ? ['tools'] : ['tools', 'search'], endpoints: { primary: `https://s${i}.example.com` },
      },
    }));
    for (let i = 0; i < regs.length; i += 50) {
      await Promise.all(regs.slice(i, i + 50).map(async (body) => {
        const res = await d.fetch('/api/v1/services/register', { method: 'POST', token: admin, body });
        assert.equal(res.status, 201, res.text);
        ids.set(body.instanceId, res.json.serviceId);
      }));
    }
    // A health history for s1 (beta): external reports count as checks.
    for (const [ok, ms] of [[true, 12], [true, 15], [false, null], [true, 30], [false, null], [true, 9]]) {
      const res = await d.fetch(`/api/v1/services/${ids.get('i1')}/health`, { method: 'PUT', token: admin, body: { ok, responseTime: ms, message: ok ? undefined : 'connection refused' } });
      assert.equal(res.status, 200, res.text);
    }
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });

  after(async () => {
    await browser?.close();
    if (d) assert.equal(await d.stop(), 0, 'discoveryd exits 0');
  });

  async function signedIn(token, { viewport = { width: 1280, height: 900 } } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.setDefaultTimeout(10000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${d.url}/ui`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15000 });
    return { context, page, errors };
  }

  test('the page is served with a strict CSP, and nothing but this origin is used', async () => {
    const res = await d.fetch('/ui/');
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(res.text, /<script>|<style>| style=|https?:\/\//, 'no inline code, no other origin');
    assert.equal((await d.fetch('/ui/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await d.fetch('/ui/nope.js')).status, 404);
  });

  test('sign in, overview counts, filters, search, sort and paging', async () => {
    const { context, page, errors } = await signedIn(admin);
    await page.waitForFunction((n) => document.querySelector('#by-status li[data-status="total"] b')?.textContent === String(n), COUNT);
    assert.equal(await page.locator('#by-status li[data-status="active"] b').innerText(), String(COUNT));
    assert.equal(await page.locator('#by-region li[data-region="eu-west1"] b').innerText(), String(COUNT / 3));
    assert.equal(await page.locator('#rows tr').count(), 50, 'one page of rows in the DOM');
    assert.match(await page.locator('#who').innerText(), /ui-admin · diamond/);
    await page.screenshot({ path: join(artifacts, 'overview.png') });

    // Filters: company, then region and a tag, then search.
    await page.getByLabel('Company', { exact: true }).selectOption('beta');
    await page.waitForFunction(() => /Services: 300 of 1200/.test(document.getElementById('services-caption').textContent));
    const companies = await page.locator('#rows tr td:first-child').allInnerTexts();
    assert.ok(companies.every((c) => c === 'beta'));
    await page.getByLabel('Region', { exact: true }).selectOption('eu-west1');
    await page.getByLabel('Tags', { exact: true }).fill('gpu');
    // beta = i % 4 == 1 (odd: all gpu); eu-west1 = i % 3 == 2 -> i % 12 == 5: 100 services.
    await page.waitForFunction(() => /Services: 100 of/.test(document.getElementById('services-caption').textContent));
    await page.getByLabel('Search', { exact: true }).fill('s17.beta');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 1);
    assert.equal(await page.locator('#rows tr td:nth-child(2)').innerText(), 's17.beta.example.com');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction((n) => document.getElementById('services-caption').textContent.includes(`${n} of ${n}`), COUNT);

    // Sorting by a column, both ways, announced with aria-sort.
    const domainHeader = page.locator('#services th', { has: page.getByRole('button', { name: 'Domain' }) });
    await page.getByRole('button', { name: 'Domain' }).click();
    assert.equal(await domainHeader.getAttribute('aria-sort'), 'ascending');
    assert.equal(await page.locator('#rows tr td:nth-child(2)').first().innerText(), 's0.acme.example.com');
    await page.getByRole('button', { name: 'Domain' }).press('Enter');  // keyboard works too; numeric order: s1199 > s999
    await page.waitForFunction(() => document.querySelector('#rows tr td:nth-child(2)')?.textContent === 's1199.delta.example.com');
    assert.equal(await domainHeader.getAttribute('aria-sort'), 'descending');

    // Paging through the 1200 rows.
    await page.getByRole('button', { name: 'Next page' }).click();
    assert.match(await page.locator('#page-info').innerText(), /Rows 51–100 of 1200 \(page 2 of 24\)/);
    await page.getByLabel('Rows per page', { exact: true }).selectOption('250');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 250);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a change arrives live, without a reload', async () => {
    const { context, page, errors } = await signedIn(admin);
    await page.getByLabel('Search', { exact: true }).fill('zeta');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 0);
    const started = Date.now();
    const res = await d.fetch('/api/v1/services/register', { method: 'POST', token: admin,
      body: { companyName: 'zeta', domain: 'live.zeta.example.com', serviceInfo: { version: '0.1.0', region: 'eu-west1', endpoints: { primary: 'https://live.zeta.example.com' } } } });
    assert.equal(res.status, 201);
    await page.locator('#rows tr', { hasText: 'live.zeta.example.com' }).waitFor({ timeout: 5000 });
    const elapsed = Date.now() - started;
    await page.waitForFunction((n) => document.querySelector('#by-status li[data-status="total"] b')?.textContent === String(n), COUNT + 1);

    // An update changes the row in place.
    const id = res.json.serviceId;
    assert.equal((await d.fetch(`/api/v1/services/${id}`, { method: 'PATCH', token: admin, body: { serviceInfo: { version: '0.2.0' } } })).status, 200);
    await page.locator(`#rows tr[data-id="${id}"] td:nth-child(6)`, { hasText: '0.2.0' }).waitFor({ timeout: 5000 });
    // A deregistration removes it.
    assert.equal((await d.fetch(`/api/v1/services/${id}`, { method: 'DELETE', token: admin })).status, 204);
    await page.locator(`#rows tr[data-id="${id}"]`).waitFor({ state: 'detached', timeout: 5000 });
    await page.screenshot({ path: join(artifacts, 'live.png') });
    console.log(`# live change shown after ${elapsed} ms`);
    assert.ok(elapsed < 3000, `a registration took ${elapsed} ms to appear`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the service page: record, health chart, checks, and an operator action with confirmation', async () => {
    const { context, page, errors } = await signedIn(admin);
    await page.getByLabel('Search', { exact: true }).fill('s1.beta');
    await page.getByRole('link', { name: 's1.beta.example.com' }).click();
    await page.getByRole('heading', { name: 's1.beta.example.com (beta)' }).waitFor();
    assert.match(await page.locator('#record').innerText(), /i1/);
    await page.getByRole('img', { name: /6 recent checks, 2 failed/ }).waitFor();
    assert.equal(await page.locator('#checks tbody tr').count(), 6);
    assert.match(await page.locator('#checks tbody').innerText(), /connection refused/);
    assert.equal(await page.locator('#alerts-card').isHidden(), true, 'no alerts endpoint: no alerts section');

    // Cancel changes nothing; confirm sets maintenance.
    await page.getByRole('button', { name: 'Set maintenance' }).click();
    const dialog = page.getByRole('dialog', { name: 'Please confirm' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await d.fetch(`/api/v1/services/${ids.get('i1')}`, { token: admin })).json.status, 'active');
    await page.getByRole('button', { name: 'Set maintenance' }).click();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#detail-status', { hasText: 'maintenance' }).waitFor();
    assert.equal((await d.fetch(`/api/v1/services/${ids.get('i1')}`, { token: admin })).json.status, 'maintenance');
    assert.equal(await page.getByRole('button', { name: 'End maintenance' }).isEnabled(), true);
    await page.screenshot({ path: join(artifacts, 'service.png'), fullPage: true });

    // Deregister, confirmed with the keyboard.
    await page.getByRole('button', { name: 'Deregister' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Enter');  // the focused button is Confirm
    await page.waitForURL(/#\/$/);
    assert.equal((await d.fetch(`/api/v1/services/${ids.get('i1')}`, { token: admin })).status, 404);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a lower level (onyx) sees its own company and no actions', async () => {
    const onyx = d.token('onyx', 'gamma', 'ui-onyx');
    const { context, page, errors } = await signedIn(onyx, { viewport: { width: 390, height: 844 } });  // a phone
    await page.waitForFunction((n) => document.querySelector('#by-status li[data-status="total"] b')?.textContent === String(n), COUNT / 4);
    assert.deepEqual(await page.locator('#f-company option').allInnerTexts(), ['any', 'gamma']);
    await page.screenshot({ path: join(artifacts, 'onyx-phone.png'), fullPage: false });
    await page.locator('#rows tr a').first().click();
    await page.getByRole('heading', { name: /\(gamma\)$/ }).waitFor();
    await page.locator('#health-note', { hasText: 'not available at your access level' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Set maintenance' }).isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Deregister' }).isVisible(), false);
    await page.screenshot({ path: join(artifacts, 'onyx-service.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('labels, landmarks and keyboard: enough for a screen reader', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${d.url}/ui/`);
    await page.locator('#token:focus').waitFor();  // the token field has focus on arrival
    await page.getByLabel('Token').fill(admin);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Sign in');
    await page.keyboard.press('Enter');  // sign in by keyboard
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.reload();  // signed in from sessionStorage; focus starts at the top
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    for (const label of ['Search', 'Company', 'Region', 'Environment', 'Status', 'Capabilities', 'Tags', 'Tools', 'Rows per page'])
      assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, `one control labelled ${label}`);
    assert.equal(await page.getByRole('table', { name: /^Services/ }).count(), 1);
    assert.equal(await page.getByRole('search', { name: 'Filter services' }).count(), 1);
    assert.equal(await page.getByRole('navigation', { name: 'Pages' }).count(), 1);
    assert.equal(await page.getByRole('status').filter({ hasText: 'Live updates' }).count(), 1);
    assert.equal(await page.locator('#conn').getAttribute('aria-live'), 'polite');
    await context.close();
  });

  test('the token never travels in a URL, and sign-out forgets it', async () => {
    const { context, page } = await signedIn(admin);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator('#overview').isHidden(), true);
    await context.close();
    const leaked = requests.filter((u) => u.includes(admin) || /token=/i.test(u));
    assert.deepEqual(leaked, []);
    assert.ok(requests.some((u) => u.includes('/api/v1/services/watch')), 'the watch was used');
  });
});
