/**
 * The gateway's two HTTP engines (engine.ts): which one runs for each setting, the fallback to node:http when
 * Node's parser is missing (WARDEN_GATEWAY_NO_LLHTTP=1 hides it), the CLI's answer when neither setting can
 * run, and the request-head refusals (request-head.ts) holding on both. The wire cases name each engine in
 * the config, so both are tested in every run of this file, whatever WARDEN_GATEWAY_ENGINE says.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WardenError } from '../errors.js';
import { RawHttpClient } from '../../test/helpers/raw-http-client.js';
import { GatewayConfigError, parseGatewayConfig } from './config.js';
import { selectEngine } from './engine.js';
import { NodeClientServer } from './node-server.js';
import { startTestGateway, type TestGateway } from './test-upstreams.js';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const head = (...lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const PROFILE = `kind: engines
endpoints:
  - { name: all, path: /*, methods: [GET, POST], class: read }
`;

describe('choosing the gateway engine', () => {
  const none = () => assert.fail('no warning expected');

  it('runs llhttp for auto where Node exposes its parser, and node when told', () => {
    assert.equal(selectEngine('auto', {}, none).name, 'llhttp');
    assert.equal(selectEngine('llhttp', {}, none).name, 'llhttp');
    assert.equal(selectEngine('node', {}, none).name, 'node');
  });

  it('takes WARDEN_GATEWAY_ENGINE over the config, and refuses a value it does not know (exit 2)', () => {
    assert.equal(selectEngine('llhttp', { WARDEN_GATEWAY_ENGINE: 'node' }, none).name, 'node');
    assert.equal(selectEngine('node', { WARDEN_GATEWAY_ENGINE: 'llhttp' }, none).name, 'llhttp');
    assert.throws(
      () => selectEngine('auto', { WARDEN_GATEWAY_ENGINE: 'fast' }, none),
      (err: unknown) => err instanceof WardenError && err.exitCode === 2 && /WARDEN_GATEWAY_ENGINE/.test(err.message),
    );
  });

  it('falls back to node:http with one warning when auto finds no parser', () => {
    const warnings: string[] = [];
    assert.equal(selectEngine('auto', { WARDEN_GATEWAY_NO_LLHTTP: '1' }, (w) => warnings.push(w)).name, 'node');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /_http_common.*node:http/);
    assert.doesNotMatch(warnings[0]!, /\n/);
  });

  it('refuses an explicit llhttp without the parser with a WardenError (exit 3)', () => {
    assert.throws(
      () => selectEngine('llhttp', { WARDEN_GATEWAY_NO_LLHTTP: '1' }, none),
      (err: unknown) => err instanceof WardenError && err.exitCode === 3 && /^listen\.engine llhttp cannot run: .*_http_common/.test(err.message),
    );
  });

  it("sets node:http's time limits as the llhttp server's: 60 s for a head, 300 s for a request, 65 s idle", () => {
    const { server } = new NodeClientServer({ request: () => undefined, upgrade: () => undefined });
    assert.deepEqual([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout], [60_000, 300_000, 65_000]);
    server.close();
  });

  it('reads listen.engine from the config: auto by default, and only a known value', () => {
    const routes = 'routes:\n  - name: r\n    upstream: { url: "http://127.0.0.1:1", profile: vllm }\n    allow: [{ classes: [read], scopes: [x] }]\n';
    assert.equal(parseGatewayConfig(routes, 'inline', tmpdir()).listen.engine, 'auto');
    assert.equal(parseGatewayConfig(`listen: { engine: node }\n${routes}`, 'inline', tmpdir()).listen.engine, 'node');
    assert.throws(() => parseGatewayConfig(`listen: { engine: fast }\n${routes}`, 'inline', tmpdir()), GatewayConfigError);
  });
});

describe('warden gateway without Node parser (WARDEN_GATEWAY_NO_LLHTTP=1)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-engine-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `warden gateway` from source until it says it is listening (then SIGTERM) or exits. */
  function runGateway(engine: string): Promise<{ code: number | null; stderr: string }> {
    const configPath = join(dir, `${engine}.yaml`);
    writeFileSync(
      configPath,
      `listen: { port: 0, engine: ${engine} }\nkeys: { store: ${join(dir, 'keys.db')} }\nroutes:\n  - name: r\n    upstream: { url: "http://127.0.0.1:1", profile: vllm }\n    allow: [{ classes: [read], scopes: [x] }]\n`,
    );
    const code = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(${JSON.stringify(['gateway', '--config', configPath, '--no-watch'])});`;
    const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_GATEWAY_NO_LLHTTP: '1', WARDEN_KEY_SECRET: 'gateway-engine-test-secret-0123456789' };
    delete env.WARDEN_GATEWAY_ENGINE;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      // Its SIGTERM handler is set just after that line is written.
      if (stderr.includes('gateway listening on')) setTimeout(() => child.kill('SIGTERM'), 300);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    return new Promise((resolve) => {
      child.on('close', (exitCode) => {
        clearTimeout(killer);
        resolve({ code: exitCode, stderr });
      });
    });
  }

  it('with listen.engine llhttp: exits 3 with one line that says why, no stack trace', async () => {
    const { code, stderr } = await runGateway('llhttp');
    assert.equal(code, 3, stderr);
    assert.match(stderr, /^warden: listen\.engine llhttp cannot run: .*_http_common.*; set listen\.engine to node or auto\n$/);
  });

  it('with listen.engine auto: warns once and serves on node:http', async () => {
    const { code, stderr } = await runGateway('auto');
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/serving with node:http instead/g)?.length, 1, stderr);
    assert.match(stderr, /gateway listening on http:\/\/127\.0\.0\.1:\d+/);
  });
});

for (const engine of ['llhttp', 'node'] as const) {
  describe(
    `the ${engine} engine refuses the same request heads before anything reaches the upstream, and forwards the same requests`,
    { timeout: 60_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'warden-engine-'));
      const seen: string[] = [];
      const headersOf = new Map<string, IncomingHttpHeaders>();
      let upstream: Server;
      let gw: TestGateway;
      let port = 0;
      let key = '';
      const overridden = process.env.WARDEN_GATEWAY_ENGINE;
      const get = (target: string, ...extra: string[]) => head(`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', `X-API-Key: ${key}`, ...extra);

      before(async () => {
        delete process.env.WARDEN_GATEWAY_ENGINE;
        upstream = createServer((req, res) => {
          seen.push(`${req.method} ${req.url}`);
          headersOf.set(req.url ?? '', req.headers);
          req.resume();
          res.end('ok');
        });
        await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
        writeFileSync(join(dir, 'engines.yaml'), PROFILE);
        gw = await startTestGateway(
          `listen: { port: 0, engine: ${engine} }\nroutes:\n  - name: r\n    upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", profile: ./engines.yaml, timeoutMs: 5000 }\n    allow: [{ classes: [read], scopes: ["t:read"] }]\n`,
          dir,
        );
        port = Number(new URL(gw.gateway.url).port);
        key = (await gw.keys.create({ owner: 'test', name: 'engines', scopes: ['t:read'] })).key;
      });

      afterEach(() => RawHttpClient.destroyAll());

      after(async () => {
        if (overridden !== undefined) process.env.WARDEN_GATEWAY_ENGINE = overridden;
        await gw?.close();
        upstream?.closeAllConnections();
        await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
        rmSync(dir, { recursive: true, force: true });
      });

      /** Sends `bytes` on a connection of its own: the status answered (0: closed without one) and what reached the upstream. */
      async function exchange(bytes: string): Promise<{ status: number; reached: string[] }> {
        const mark = seen.length;
        const c = await RawHttpClient.open(port);
        c.write(bytes);
        const r = await c.response();
        // Whatever the gateway forwarded would have arrived by the time a fresh request on another connection is answered.
        const check = await RawHttpClient.open(port);
        check.write(get('/after'));
        assert.equal((await check.response())?.status, 200, 'the gateway still serves');
        return { status: r?.status ?? 0, reached: seen.slice(mark, -1) };
      }

      it(`runs on ${engine}`, () => {
        assert.equal(gw.gateway.engine.name, engine);
      });

      const refusals: Array<[string, () => string, number]> = [
        ['two Host fields', () => get('/two-hosts', 'Host: internal.example'), 400],
        ['two Authorization fields', () => get('/two-auth', `Authorization: Bearer ${key}`, `Authorization: Bearer ${key}`), 400],
        ['HTTP/1.1 without Host', () => head('GET /no-host HTTP/1.1', `X-API-Key: ${key}`), 400],
        [
          'Transfer-Encoding: gzip, chunked',
          () => head('POST /gzip HTTP/1.1', 'Host: 127.0.0.1', `X-API-Key: ${key}`, 'Transfer-Encoding: gzip, chunked') + '0\r\n\r\n',
          501,
        ],
        [
          'Transfer-Encoding: chunked, identity',
          () => head('POST /identity HTTP/1.1', 'Host: 127.0.0.1', `X-API-Key: ${key}`, 'Transfer-Encoding: chunked, identity') + '0\r\n\r\n',
          400,
        ],
        ['Expect: something', () => get('/expect', 'Expect: something'), 417],
        // node:http on its own takes any Expect that mentions 100-continue and answers 100 Continue.
        [
          'Expect: 100-continue, something',
          () => head('POST /expect-list HTTP/1.1', 'Host: 127.0.0.1', `X-API-Key: ${key}`, 'Expect: 100-continue, something', 'Content-Length: 2') + 'hi',
          417,
        ],
        ['CONNECT', () => head('CONNECT 127.0.0.1:1 HTTP/1.1', 'Host: 127.0.0.1:1', `X-API-Key: ${key}`), 0],
      ];
      for (const [what, bytes, status] of refusals)
        it(`answers ${status || 'a closed connection'} to ${what}, and forwards nothing`, async () => {
          assert.deepEqual(await exchange(bytes()), { status, reached: [] }, what);
        });

      it('forwards a POST without a body without chunked coding', async () => {
        const { status, reached } = await exchange(head('POST /no-body HTTP/1.1', 'Host: 127.0.0.1', `X-API-Key: ${key}`));
        assert.deepEqual({ status, reached }, { status: 200, reached: ['POST /no-body'] });
        const headers = headersOf.get('/no-body')!;
        assert.equal(headers['transfer-encoding'], undefined);
        assert.equal(headers['content-length'] ?? '0', '0');
      });

      it('acts on nothing pipelined behind a request that closes the connection, or that it refuses', async () => {
        assert.deepEqual(await exchange(get('/last', 'Connection: close') + get('/behind')), { status: 200, reached: ['GET /last'] });
        assert.deepEqual(await exchange(get('/refused', 'Expect: something') + get('/behind')), { status: 417, reached: [] });
      });
    },
  );
}
