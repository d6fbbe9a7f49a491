import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { expandSample } from '../detect/index.js';
import { cleanLogLines } from '../detect/test-log-corpus.js';
import { createScrubStream, scrub, withheldMarker, type ScrubOptions } from './index.js';
import { createScrubber, scrubBatch } from './stream.js';
import { scrubInChunks } from './test-chunks.js';

const OPENAI = expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}');
const PEM_BODY = [expandSample('{base64:64}'), expandSample('{base64:64}'), expandSample('{base64:40}==')];

/** Feeds `input` through a scrub stream in chunks of the given sizes (cycled) and returns the output bytes. */
function throughStream(input: Buffer, chunkSizes: number[], options: ScrubOptions = {}): Promise<Buffer> {
  return scrubInChunks(createScrubStream(options), input, chunkSizes);
}

describe('scrub (string)', () => {
  it('redacts a provider key and leaves the rest of the line alone', () => {
    assert.equal(scrub(`export OPENAI_API_KEY=${OPENAI}\n`), 'export OPENAI_API_KEY=[REDACTED:openai-project-key]\n');
  });
  it('keeps the non-secret prefix and last 4 with --mask partial', () => {
    assert.equal(scrub(`k=${OPENAI}`, { mask: 'partial' }), `k=sk-proj-[REDACTED:openai-project-key]${OPENAI.slice(-4)}`);
  });
  it('fingerprints the same secret the same way, and different secrets differently', () => {
    const key = Buffer.from('test-key');
    const other = expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 7);
    const out = scrub(`${OPENAI}\n${OPENAI}\n${other}\n`, { mask: 'fingerprint', fingerprintKey: key }).split('\n');
    assert.match(out[0]!, /^\[REDACTED:openai-project-key:[0-9a-f]{16}\]$/);
    assert.equal(out[0], out[1]);
    assert.notEqual(out[0], out[2]);
    assert.ok(!out.join('\n').includes(OPENAI.slice(20, 40)));
  });
  it('redacts credential-named NDJSON fields at any depth and keeps the line valid JSON', () => {
    const line = JSON.stringify({
      req: { headers: { Authorization: 'Bearer abc', 'X-Api-Key': 'short1', cookie: 'sid=1' }, body: { password: 12345, nested: [{ client_secret: 'cs' }] } },
      headerList: [
        ['authorization', 'Basic dXNlcjpwYXNz'],
        ['accept', 'json'],
      ],
      pairs: [{ name: 'Proxy-Authorization', value: 'Bearer zzz' }],
      usage: { prompt_tokens: 10, completion_tokens: 5, max_tokens: 100 },
      token_count: 3,
      apiKey: null,
    });
    const out = scrub(line, { format: 'ndjson' });
    const parsed = JSON.parse(out);
    // Which rule masks a credential-named field can change as rules are added; that it is masked cannot.
    const masked = /^\[REDACTED:[a-z0-9-]+\]$/;
    for (const v of [
      parsed.req.headers.Authorization,
      parsed.req.headers['X-Api-Key'],
      parsed.req.headers.cookie,
      parsed.req.body.nested[0].client_secret,
      parsed.pairs[0].value,
    ])
      assert.match(v, masked);
    // A number is masked whole, with quotes of its own, so the line stays valid JSON.
    assert.equal(parsed.req.body.password, '[REDACTED:sensitive-field]');
    // A pattern rule that recognises the value names it; the field rule covers the rest of the value.
    assert.equal(parsed.headerList[0][1], '[REDACTED:http-authorization-basic]');
    assert.equal(parsed.headerList[1][1], 'json');
    assert.deepEqual(parsed.usage, { prompt_tokens: 10, completion_tokens: 5, max_tokens: 100 });
    assert.equal(parsed.token_count, 3);
    assert.equal(parsed.apiKey, null);
  });
  it('leaves the clean log corpus byte-identical in ndjson mode: credential-named fields that hold no credential', () => {
    const text = [...cleanLogLines(20_000)].map((c) => c.line).join('\n');
    const clean = text.split('\n');
    const out = scrub(text, { format: 'ndjson' }).split('\n');
    assert.deepEqual(out.filter((line, i) => line !== clean[i]).slice(0, 5), []);
    // A logprobs entry's token is text, a number under a token name a count, eos_token a tokenizer's marker,
    // resume_token a cursor; a number under a password name and a token string stay redacted.
    const line = JSON.stringify({
      token: ' the',
      logprob: -0.7,
      n: { token: 20970 },
      eos_token: '</s>',
      resume_token: { _data: '8267' },
      password: 123456,
      auth: { token: 'short1' },
    });
    const parsed = JSON.parse(scrub(line, { format: 'ndjson' }));
    assert.deepEqual([parsed.token, parsed.n.token, parsed.eos_token, parsed.resume_token._data], [' the', 20970, '</s>', '8267']);
    assert.equal(parsed.password, '[REDACTED:sensitive-field]');
    assert.match(parsed.auth.token, /^\[REDACTED:[a-z0-9-]+\]$/);
  });
  it('finds a key inside an escaped JSON string and keeps the outer JSON valid', () => {
    const inner = JSON.stringify({ config: `key=${OPENAI}` });
    const line = JSON.stringify({ msg: inner });
    const out = scrub(line, { format: 'ndjson' });
    assert.ok(!out.includes(OPENAI));
    assert.equal(JSON.parse(JSON.parse(out).msg).config, 'key=[REDACTED:openai-project-key]');
  });
  it('redacts a provider key whose only keyword is sk- when the writer escapes the keyword itself', () => {
    // These rules run only where `sk-` occurs (the provider's name is a model name on many lines); a log
    // writer must not get past them by spelling `sk-` through a JSON or URL escape.
    const cases: Array<[string, string, number]> = [
      ['deepseek', 'deepseek-api-key', 32],
      ['qwen', 'dashscope-api-key', 32],
      ['kimi', 'moonshot-api-key', 48],
      ['stability', 'stability-api-key', 48],
    ];
    for (const [provider, rule, length] of cases) {
      const body = expandSample(`{alnum:${length}}`);
      for (const key of [`sk\\u002d${body}`, `\\u0073k-${body}`, `sk%2D${body}`, `SK-${body}`]) {
        const line = `{"provider":"${provider}","api_key":"${key}"}`;
        const out = scrub(line);
        assert.ok(!out.includes(body), `${rule} let ${key} through: ${out}`);
        assert.match(out, new RegExp(`\\[REDACTED:${rule}\\]`), out);
      }
    }
  });
  it('leaves a non-JSON line in ndjson mode to the pattern rules', () => {
    assert.equal(scrub(`plain ${OPENAI} text`, { format: 'ndjson' }), 'plain [REDACTED:openai-project-key] text');
  });
  it('redacts a multi-line private key whole, one marker per line, keeping the line count', () => {
    const text = ['before', '-----BEGIN RSA PRIVATE KEY-----', ...PEM_BODY, '-----END RSA PRIVATE KEY-----', 'after', ''].join('\n');
    const out = scrub(text).split('\n');
    assert.equal(out.length, text.split('\n').length);
    assert.equal(out[0], 'before');
    assert.deepEqual(out.slice(1, 6), Array(5).fill('[REDACTED:private-key]'));
    assert.equal(out[6], 'after');
  });
  it('keeps a private key redacted when its END line never comes, and resumes on ordinary text', () => {
    const text = ['-----BEGIN OPENSSH PRIVATE KEY-----', ...PEM_BODY, 'GET /health 200 ok'].join('\n');
    const out = scrub(text).split('\n');
    assert.deepEqual(out.slice(0, 4), Array(4).fill('[REDACTED:private-key]'));
    assert.equal(out[4], 'GET /health 200 ok');
  });
});

describe('scrub fails closed', () => {
  // Held-out leaks that filters built to keep `warden detect` quiet used to let through: weak and default
  // passwords, placeholder-looking values, tokens whose checksum does not verify, a vendor shape without context.
  const NPM_BAD_CHECKSUM = expandSample('npm_{alnum:36}');
  const GHP_BAD_CHECKSUM = expandSample('ghp_{alnum:36}');
  const TWILIO_SID = expandSample('SK{hex:32}');
  const leaks: Array<[string, string, 'text' | 'ndjson']> = [
    ['postgres://app:admin@prod-db:5432/app', 'admin', 'text'],
    ['mysql://root:root@db.internal:3306/app', ':root@', 'text'],
    ['password=hunter2', 'hunter2', 'text'],
    ['{"level":"error","dsn":"postgres://app:hunter2@db/app"}', 'hunter2', 'ndjson'],
    ['amqp://guest:guest@rabbitmq:5672/', ':guest@', 'text'],
    ["RDS_PASSWORD='dummy-pass-2291'", 'dummy-pass-2291', 'text'],
    [`NPM_TOKEN=${NPM_BAD_CHECKSUM}`, NPM_BAD_CHECKSUM, 'text'],
    [`{"msg":"clone with ${GHP_BAD_CHECKSUM}"}`, GHP_BAD_CHECKSUM, 'ndjson'],
    [`token ${TWILIO_SID}`, TWILIO_SID, 'text'],
    ['Authorization: Bearer abc', 'abc', 'text'],
    ['"password": "admin"', 'admin', 'text'],
    ['<password>admin</password>', 'admin', 'text'],
    ["app.config['SECRET_KEY'] = 'dev'", "'dev'", 'text'],
    ['mongosh --host db -u admin -p hunter2', 'hunter2', 'text'],
    ["define('DB_PASSWORD', 'admin');", "'admin'", 'text'],
    // A default password on a real host, this machine included, is a working login wherever that default was kept.
    ['DATABASE_URL=postgres://user:pass@localhost:5432/db', ':pass@', 'text'],
    ['amqp://guest:guest@localhost:5672/', ':guest@', 'text'],
    ['mysql://root:root@127.0.0.1/app', ':root@', 'text'],
    ['password = "changeme"', 'changeme', 'text'],
    // Weak or punctuated values under token and key names, digits under secret names (#19, later).
    ["loaded config auth_token='winter109!' user=app", 'winter109', 'text'],
    ['loaded config token=>"guest" host=db', 'guest', 'text'],
    ['loaded config access_token:123456', '123456', 'text'],
    ['access_token:="Welcome1001#" user=app', 'Welcome1001', 'text'],
    ['DEBUG settings access_token: secret host=db', 'secret host', 'text'],
    ["env: apiKey:'Summer24!'", 'Summer24', 'text'],
    ['loaded config api_key:=changeme host=db', 'changeme', 'text'],
    ['{"msg":"env: apiKey:=\\"Welcome995!\\" user=app"}', 'Welcome995', 'ndjson'],
    ['{"msg":"token=changeme","request_id":"req_1"}', 'changeme', 'ndjson'],
    ['DEBUG settings client_secret:123456 user=app', '123456', 'text'],
    // Random letters that read like camelCase are a password on a command line, not a variable name.
    ['{"msg":"+ sshpass -p lbyiYqGerTib ssh deploy@10.0.0.5"}', 'lbyiYqGerTib', 'ndjson'],
    ['+ mongosh --username admin --password QbIyioRpQv --host db', 'QbIyioRpQv', 'text'],
    ['level=info + mysql -h db -u root -pNolWtroxZagZwi app', 'NolWtroxZagZwi', 'text'],
    ['loaded config pass = DrmomyNgDa host=db', 'DrmomyNgDa', 'text'],
    // A password someone chose is no documentation example, whatever the host.
    ['REDIS_URL=redis://:acme1504@cache.example.org:6379/0', 'acme1504', 'text'],
    // Template-looking characters inside a random value: `%s`, `%O%`, `<3c>`, a leading `!`.
    ["export MAIL_PASSWORD='FK@qn!koZaOGNob*ZP4lV%s'", 'koZaOGNob', 'text'],
    ['"password": "tH.Zc_Na6+_%O%oGo15d2.ceLrU",', 'Go15d2', 'text'],
    ["define( 'LOGGED_IN_KEY', 'o,b<3c>EjJw+foI(Qs8kT]qz=Kcl)l|O9Zg]0,>{A48+lt1pZjpYU>9Dr5oXXI](' );", 'EjJw+foI', 'text'],
    ["define( 'DB_PASSWORD', '!7QO5~RKJZTn' );", '7QO5~RKJZTn', 'text'],
    // One-time and short codes under their field names, however few their digits.
    ['{"event":"login","otp":"482913"}', '482913', 'ndjson'],
    ['{"user":{"id":7,"pin":4821}}', '4821', 'ndjson'],
    ['{"verificationCode":"77215","email":"a@b.c"}', '77215', 'ndjson'],
    ['{"mfa_code":"391","step":2}', '391', 'ndjson'],
    ['{"card":{"cvv":"417"}}', '417', 'ndjson'],
    ['{"grant_type":"authorization_code","code_verifier":"x","authorization_code":"SplxlOBeZQQYbYS6WxSbIA"}', 'SplxlOBeZQQYbYS6WxSbIA', 'ndjson'],
  ];
  for (const [line, secret, format] of leaks) {
    it(`redacts ${JSON.stringify(line.slice(0, 48))} (${format})`, () => {
      const out = scrub(line, { format });
      assert.ok(!out.includes(secret), `leaked: ${out}`);
      assert.match(out, /\[REDACTED:/);
    });
  }
  it('leaves explicit templates and documentation examples alone', () => {
    for (const line of [
      'password: ${DB_PASSWORD}',
      'redis://:guest@cache.example.org:6379/0',
      'access_token= duration_ms=309',
      'pwd=> duration_ms=309',
      'password: !Ref DbPassword',
      'DATABASE_URL=postgres://user:pass@db.example.com:5432/db',
      'amqp://guest:guest@rabbitmq.example.net:5672/',
      'password: "%(DB_PASSWORD)s"',
      'Authorization: Bearer <token>',
    ]) {
      assert.equal(scrub(line), line);
    }
  });
  it('leaves names that only hold a code word alone', () => {
    const line = '{"pinned":true,"mapping":"a","status_code":200,"mfa_enabled":true,"verification_sent_at":"2026-01-01","security_group":"sg-1"}';
    assert.equal(scrub(line, { format: 'ndjson' }), line);
  });
});

describe('scrubBatch written over its input', () => {
  // A worker writes a batch's output over the input's own buffer where it has room. The masks here are longer
  // than the first password and shorter than the key, so the output runs ahead of the input, then behind it.
  const lines = `password=a1\nk=${OPENAI}\npassword=b2\nclean line\npassword=c3\n`;
  const expected = scrub(lines);

  for (const spare of [0, 64, 4096]) {
    it(`gives the bytes a fresh buffer gets, with ${spare} spare bytes after the input`, () => {
      const input = Buffer.alloc(Buffer.byteLength(lines) + spare, 0x58).subarray(0, Buffer.byteLength(lines));
      input.write(lines, 'latin1');
      const { output, clearOfBlocks } = scrubBatch(createScrubber(), input, undefined, true);
      assert.ok(clearOfBlocks);
      assert.equal(output!.toString('latin1'), expected);
      assert.equal(output!.buffer === input.buffer, spare >= 64, 'written in place only where the output fits');
    });
  }
});

describe('createScrubStream', () => {
  it('passes clean bytes through byte-identical, including binary, invalid UTF-8 and CRLF', async () => {
    const input = Buffer.concat([
      Buffer.from('line one\r\nline two\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a, 0xc3, 0x28, 0x0a]),
      Buffer.from('ünïcødé ✓ 🙂\nno newline at end'),
    ]);
    for (const sizes of [[1], [3, 5], [4096]]) assert.deepEqual(await throughStream(input, sizes), input);
  });
  it('finds a secret split across read chunks', async () => {
    const input = Buffer.from(`a\nAuthorization: Bearer ${OPENAI}\nb\n`);
    for (const sizes of [[1], [7], [50, 3]]) {
      const out = (await throughStream(input, sizes)).toString();
      assert.ok(!out.includes(OPENAI.slice(10, 30)), `leaked with chunks ${sizes}`);
      assert.equal(out.split('\n').length, 4);
    }
  });
  it('redacts a private key spread over chunk boundaries', async () => {
    const text = ['x', '-----BEGIN PRIVATE KEY-----', ...PEM_BODY, '-----END PRIVATE KEY-----', 'y', ''].join('\n');
    const out = (await throughStream(Buffer.from(text), [9])).toString();
    for (const body of PEM_BODY) assert.ok(!out.includes(body.slice(0, 20)));
    assert.deepEqual(out.split('\n').slice(-2), ['y', '']);
  });
  it('withholds an overlong line with a marker, keeping every other line and the order', async () => {
    const long = 'A'.repeat(5000) + OPENAI;
    const input = Buffer.from(`first\n${long}\nlast ${OPENAI}\nend`);
    for (const sizes of [[1000], [64], [100_000]]) {
      const stream = createScrubStream({ maxLineBytes: 1024 });
      const out: Buffer[] = [];
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; at += sizes[0]!) chunks.push(input.subarray(at, at + sizes[0]!));
      for await (const c of Readable.from(chunks).pipe(stream)) out.push(c as Buffer);
      const lines = Buffer.concat(out).toString().split('\n');
      assert.deepEqual(lines, ['first', withheldMarker(long.length), 'last [REDACTED:openai-project-key]', 'end']);
      assert.equal(stream.stats.withheldLines, 1);
      assert.equal(stream.stats.lines, 4);
    }
  });
  it('withholds an overlong final line without a newline', async () => {
    const out = (await throughStream(Buffer.from('ok\n' + 'B'.repeat(3000)), [512], { maxLineBytes: 1000 })).toString();
    assert.equal(out, 'ok\n' + withheldMarker(3000));
  });
  it('in NDJSON (and auto on a JSON line) the marker of a withheld line is itself a JSON line', async () => {
    const long = JSON.stringify({ msg: 'A'.repeat(5000) + OPENAI });
    const input = Buffer.from(`{"i":1}\n${long}\n{"i":2,"api_key":"${OPENAI}"}\n  ${long}`);
    for (const format of ['ndjson', 'auto'] as const) {
      for (const sizes of [[1000], [64], [100_000]]) {
        const lines = (await throughStream(input, sizes, { format, maxLineBytes: 1024 })).toString().split('\n');
        const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        assert.deepEqual(rows[1], { warden: 'line withheld', reason: 'over-long', bytes: long.length });
        assert.deepEqual(rows[3], { warden: 'line withheld', reason: 'over-long', bytes: long.length + 2 });
        assert.equal(rows[2]!.api_key, '[REDACTED:openai-project-key]');
        assert.equal(lines[1], withheldMarker(long.length, 'json'));
      }
    }
    const text = (await throughStream(Buffer.from(`ok\n${long}\n`), [64], { format: 'auto', maxLineBytes: 1024 })).toString();
    assert.equal(text, `ok\n${withheldMarker(long.length, 'json')}\n`);
    const plain = (await throughStream(Buffer.from(`ok\n${long}\n`), [64], { format: 'text', maxLineBytes: 1024 })).toString();
    assert.equal(plain, `ok\n${withheldMarker(long.length)}\n`, 'text mode keeps the text marker');
  });
  it('never drops, merges or reorders lines under random chunking', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(i % 97 === 0 ? `{"i":${i},"api_key":"${OPENAI}"}` : `{"i":${i},"msg":"hello ${'x'.repeat(i % 300)}"}`);
    const input = Buffer.from(lines.join('\n') + '\n');
    const out = (await throughStream(input, [1, 17, 4096, 333, 65536])).toString().split('\n');
    assert.equal(out.length, lines.length + 1);
    for (let i = 0; i < lines.length; i++) {
      if (i % 97 === 0) assert.equal(JSON.parse(out[i]!).api_key, '[REDACTED:openai-project-key]');
      else assert.equal(out[i], lines[i]);
    }
  });
  it('counts lines, bytes and redactions per rule', async () => {
    const stream = createScrubStream();
    const input = `a ${OPENAI}\nb\n`;
    for await (const _ of Readable.from([Buffer.from(input)]).pipe(stream)) void _;
    assert.equal(stream.stats.lines, 2);
    assert.equal(stream.stats.bytes, Buffer.byteLength(input));
    assert.deepEqual(stream.stats.redactions, { 'openai-project-key': 1 });
  });
});
