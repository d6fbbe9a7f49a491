// The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core): log in
// with a key, see the finding from a real scan of a real open redis-server on loopback, acknowledge it.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { parseConfig } from '../config/index.js';
import { parseKeySecrets } from '../keys/index.js';
import { openStore, type Store } from '../store/index.js';
import { SESSION_COOKIE, type ServeDaemon } from './index.js';
import { startTestServe } from '../../test/helpers/serve.js';
import { CHROMIUM_LAUNCH } from '../../test/helpers/chromium.js';
import { freePort } from '../../test/helpers/free-port.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';
import { startTestRedis } from '../../test/helpers/redis.js';

const REDIS_PORT = await freePort();

describe('dashboard in headless Chromium', () => {
  let where: StoreLocation;
  let store: Store;
  let daemon: ServeDaemon;
  let redis: ChildProcess;
  let browser: Browser;
  let adminKey = '';

  before(async () => {
    redis = await startTestRedis(REDIS_PORT);
    where = await STORE_KINDS[0]!.make();
    store = openStore(where.location);
    const config = parseConfig(
      `version: 1\ninventories:\n  - {name: lab, targets: ["127.0.0.1:${REDIS_PORT}"], every: 1h, timeout: 1s}\n`,
      '/tmp/warden.yaml',
      {},
    );
    const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
    daemon = await startTestServe({ config, store, secrets, schedule: false, announceKey: (k) => (adminKey = k) });
    assert.ok(await daemon.trigger('lab'));
    await daemon.settled();
    browser = await chromium.launch(CHROMIUM_LAUNCH);
  });
  after(async () => {
    await browser?.close();
    await daemon?.close();
    redis?.kill('SIGTERM');
    await store?.close();
    await where?.cleanup();
  });

  it('logs in with a key, shows the Redis finding, and acknowledges it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));

    await page.goto(`${daemon.url}/`);
    assert.match(page.url(), /\/login$/);
    await page.fill('#key', 'wdn_live_not-a-real-key');
    await page.click('button[type=submit]');
    assert.match((await page.textContent('.error')) ?? '', /not accepted/);

    await page.fill('#key', adminKey);
    await page.click('button[type=submit]');
    await page.waitForURL(`${daemon.url}/`);
    const [cookie] = (await context.cookies()).filter((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie, 'a session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.ok(!cookie.value.includes(adminKey.slice(10)), 'the cookie is not the key');

    const endpoint = `127.0.0.1:${REDIS_PORT}`;
    await page.getByRole('link', { name: endpoint }).click();
    await page.waitForSelector('h1');
    assert.match((await page.textContent('.facts')) ?? '', /redis/);
    assert.match((await page.textContent('.timeline')) ?? '', /First seen open/);

    await page.fill('#reason', 'lab Redis, firewalled at the edge');
    await page.selectOption('#expiresIn', '30d');
    await page.click('form.ackform button[type=submit]');
    await page.waitForSelector('p.ack');
    assert.match((await page.textContent('p.ack')) ?? '', /Acknowledged.*lab Redis, firewalled at the edge/);
    assert.match((await page.textContent('.timeline')) ?? '', /Acknowledged: “lab Redis, firewalled at the edge”/);

    const stored = (await daemon.history.finding('lab', `redis:${endpoint}`))!;
    assert.equal(stored.finding.acknowledgement?.kind, 'acknowledge');
    assert.ok(
      requested.every((u) => u.startsWith(daemon.url)),
      `only local assets: ${requested.filter((u) => !u.startsWith(daemon.url)).join(', ')}`,
    );

    // The same form posted without its CSRF token, with the session cookie, is refused.
    const forged = await fetch(`${daemon.url}/findings/lab/${encodeURIComponent(`redis:${endpoint}`)}/unacknowledge`, {
      method: 'POST',
      headers: { cookie: `${SESSION_COOKIE}=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=forged',
      redirect: 'manual',
    });
    assert.equal(forged.status, 403);
    assert.ok((await daemon.history.finding('lab', `redis:${endpoint}`))!.finding.acknowledgement);

    await page.click('nav button');
    await page.waitForURL(/\/login$/);
    await context.close();
  });
});
