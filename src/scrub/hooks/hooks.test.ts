import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import winston from 'winston';
import { expandSample } from '../../detect/index.js';
import { createOtelScrubber, createOtelScrubProcessor } from './otel.js';
import { createPinoDestination } from './pino.js';
import { createValueScrubber } from './values.js';
import { createWinstonScrubFormat } from './winston.js';

const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 31) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 32);
const PASSWORD = 'hunter2-' + expandSample('{alnum:12}', 33);
/** Which rule masks a credential-named field can change as rules are added; that it is masked cannot. */
const MASKED = /^\[REDACTED:[a-z0-9-]+\]$/;

function collect(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('pino destination (through real pino)', () => {
  it('scrubs each NDJSON line pino writes: message and nested credential fields', async () => {
    const sink = collect();
    const destination = createPinoDestination(sink.stream);
    const logger = pino({ base: undefined, timestamp: false }, destination);
    logger.info({ req: { headers: { authorization: 'Basic dXNlcjpwYXNz', 'x-request-id': 'r-1' } } }, 'calling upstream');
    logger.warn(`retrying with ${KEY}`);
    logger.error({ user: { password: PASSWORD, name: 'ada' }, tokens: 42 }, 'login failed');
    logger.info('clean line');
    destination.end();
    await finished(sink.stream);
    const lines = sink.lines();
    assert.equal(lines.length, 4);
    const joined = lines.join('\n');
    assert.ok(!joined.includes(KEY) && !joined.includes(PASSWORD) && !joined.includes('dXNlcjpwYXNz'), joined);
    const [first, second, third, fourth] = lines.map((l) => JSON.parse(l));
    assert.match(first.req.headers.authorization, MASKED);
    assert.equal(first.req.headers['x-request-id'], 'r-1');
    assert.equal(second.msg, 'retrying with [REDACTED:openai-project-key]');
    assert.match(third.user.password, MASKED);
    assert.equal(third.user.name, 'ada');
    assert.equal(third.tokens, 42);
    assert.deepEqual(fourth, { level: 30, msg: 'clean line' });
  });
});

describe('hooks fail closed', () => {
  it('redact weak and short credentials, as scrub does (pino lines, winston values)', async () => {
    const sink = collect();
    const destination = createPinoDestination(sink.stream);
    const logger = pino({ base: undefined, timestamp: false }, destination);
    logger.warn('connecting to postgres://app:admin@prod-db:5432/app');
    destination.end();
    await finished(sink.stream);
    assert.deepEqual(
      sink.lines().map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['connecting to postgres://app:[REDACTED:postgres-connection-uri]@prod-db:5432/app'],
    );
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const w = winston.createLogger({
      format: winston.format.combine(winston.format.json(), createWinstonScrubFormat()),
      transports: [new winston.transports.Stream({ stream: out })],
    });
    w.info('pwd=abc', { dsn: 'amqp://guest:guest@rabbitmq:5672/' });
    await new Promise((r) => setImmediate(r));
    const logged = JSON.parse(lines[0]!) as { message: string; dsn: string };
    assert.equal(logged.message, 'pwd=[REDACTED:generic-password-assignment]');
    assert.equal(logged.dsn, 'amqp://guest:[REDACTED:amqp-connection-uri]@rabbitmq:5672/');
  });
  it('scan short strings: a five-character value can hold a password', () => {
    assert.equal((createValueScrubber().value({ note: 'pwd=abc' }) as { note: string }).note, 'pwd=[REDACTED:generic-password-assignment]');
  });
});

describe('winston format (through real winston)', () => {
  it('scrubs message, meta and splat before transports write', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const logger = winston.createLogger({
      format: winston.format.combine(winston.format.splat(), winston.format.json(), createWinstonScrubFormat()),
      transports: [new winston.transports.Stream({ stream: out })],
    });
    const meta = { config: { openai: { apiKey: KEY, model: 'gpt-4o' } }, headers: [{ name: 'Authorization', value: 'Bearer abc' }] };
    logger.info('starting with %s', KEY, meta);
    logger.error('db failed', { error: new Error(`connect failed password=${PASSWORD}`), db: { password: PASSWORD } });
    logger.info('clean', { credentials: { user: 'u', secret: 'v' } });
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 3);
    const joined = lines.join('\n');
    assert.ok(!joined.includes(KEY) && !joined.includes(PASSWORD), joined);
    const [first, second, third] = lines.map((l) => JSON.parse(l));
    assert.equal(first.message, 'starting with [REDACTED:openai-project-key]');
    assert.match(first.config.openai.apiKey, MASKED);
    assert.equal(first.config.openai.model, 'gpt-4o');
    assert.equal(meta.config.openai.apiKey, KEY, "the caller's object is not mutated");
    assert.match(second.db.password, MASKED);
    assert.match(third.credentials, MASKED);
  });
});

describe('OpenTelemetry attributes', () => {
  it('scrubs header attributes, URLs, SQL and free text; leaves the rest alone', () => {
    const scrubber = createOtelScrubber();
    const out = scrubber.attributes({
      'http.request.header.authorization': ['Bearer abcdefghijklmnop'],
      'http.request.header.x-api-key': ['k-123456789'],
      'http.request.header.accept': ['application/json'],
      'http.url': `https://user:${PASSWORD}@api.example.invalid/v1/chat?api_key=abc123&model=x&key=AIzaXYZ#frag`,
      'url.full': `https://api.example.invalid/v1?q=1&note=${KEY}`,
      'url.query': 'access_token=tok123&page=2',
      'db.statement': `ALTER USER app IDENTIFIED BY '${PASSWORD}'`,
      'db.query.text': `CREATE USER ai IDENTIFIED WITH sha256_password BY '${PASSWORD}'; SELECT 1`,
      'db.connection_string': `Server=db;User Id=app;Password=${PASSWORD};`,
      'gen_ai.prompt': `my key is ${KEY}`,
      'app.api_key': 'abcdef',
      'http.response.status_code': 200,
    });
    assert.deepEqual(out, {
      'http.request.header.authorization': ['[REDACTED:sensitive-field]'],
      'http.request.header.x-api-key': ['[REDACTED:sensitive-field]'],
      'http.request.header.accept': ['application/json'],
      'http.url':
        'https://user:[REDACTED:sensitive-field]@api.example.invalid/v1/chat?api_key=[REDACTED:sensitive-field]&model=x&key=[REDACTED:sensitive-field]#frag',
      'url.full': 'https://api.example.invalid/v1?q=1&note=[REDACTED:openai-project-key]',
      'url.query': 'access_token=[REDACTED:sensitive-field]&page=2',
      'db.statement': "ALTER USER app IDENTIFIED BY '[REDACTED:sensitive-field]'",
      'db.query.text': "CREATE USER ai IDENTIFIED WITH sha256_password BY '[REDACTED:sensitive-field]'; SELECT 1",
      'db.connection_string': 'Server=db;User Id=app;Password=[REDACTED:sensitive-field];',
      'gen_ai.prompt': 'my key is [REDACTED:openai-project-key]',
      'app.api_key': '[REDACTED:sensitive-field]',
      'http.response.status_code': 200,
    });
  });

  it('a processor scrubs spans (and their events) and log records in place', async () => {
    const processor = createOtelScrubProcessor();
    const span = {
      name: 'POST',
      attributes: { 'url.full': 'https://x.invalid/?token=abc' },
      events: [{ name: 'exception', attributes: { 'exception.message': `bad key ${KEY}` } }],
    };
    processor.onEnd(span);
    assert.equal(span.attributes['url.full'], 'https://x.invalid/?token=[REDACTED:sensitive-field]');
    assert.equal(span.events[0]!.attributes['exception.message'], 'bad key [REDACTED:openai-project-key]');
    const record = { body: { msg: `sent ${KEY}`, headers: { cookie: 'sid=1' } }, attributes: { 'http.request.header.cookie': 'sid=1' } };
    processor.onEmit(record);
    assert.deepEqual(record, {
      body: { msg: 'sent [REDACTED:openai-project-key]', headers: { cookie: '[REDACTED:sensitive-field]' } },
      attributes: { 'http.request.header.cookie': '[REDACTED:sensitive-field]' },
    });
    await processor.shutdown();
  });
});
