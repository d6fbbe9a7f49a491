import assert from 'node:assert/strict';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { Readable, type Transform } from 'node:stream';
import { describe, it } from 'node:test';
import { expandSample, getDefaultDetector } from '../detect/index.js';
import {
  createParallelScrubStream,
  createScrubPool,
  createScrubStream,
  defaultScrubThreads,
  MASK_STYLES,
  scrub,
  ScrubWorkerError,
  WORKERS_FROM_BYTES,
  type ScrubOptions,
  type ScrubStats,
} from './index.js';
import { scrubInChunks } from './test-chunks.js';

const OPENAI = expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}');
const GITHUB = expandSample('ghp_{alnum:30}{crc32b62:6}');
const KEY = Buffer.from('parallel-test-key');

function pemBlock(seed: number, bodyLines: number, eol = '\n'): string {
  const body = Array.from({ length: bodyLines }, (_, i) => expandSample('{base64:64}', seed * 1000 + i));
  return ['-----BEGIN RSA PRIVATE KEY-----', ...body, '-----END RSA PRIVATE KEY-----'].join(eol) + eol;
}

/**
 * Every kind of line the scrubber treats differently, in an order that puts private-key blocks, over-long
 * lines and secrets across the edges of small batches: NDJSON with credential-named fields and escaped
 * secrets, plain text, CRLF, binary and invalid UTF-8, lines over the limit, and no line feed at the end.
 */
function mixedCorpus(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 400; i++) {
    const kind = i % 11;
    let line: string | Buffer;
    if (kind === 0) line = JSON.stringify({ i, headers: { authorization: `Bearer ${OPENAI}`, 'x-api-key': 'short' }, usage: { prompt_tokens: i } }) + '\n';
    else if (kind === 1) line = `${new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()} INFO route=/v1 api_key=${GITHUB} latency_ms=${i}\r\n`;
    else if (kind === 2) line = JSON.stringify({ msg: JSON.stringify({ config: `key=${OPENAI}`, password: 'hunter2' }) }) + '\n';
    else if (kind === 3) line = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x41 + (i % 26), 0x0a]);
    else if (kind === 4) line = pemBlock(i, 1 + (i % 5), i % 2 ? '\n' : '\r\n');
    else if (kind === 5 && i % 3 === 0) line = (i % 2 ? '  {"msg":"' : 'x') + 'A'.repeat(2500 + i) + OPENAI + '"}\n';
    else if (kind === 6) line = `{"i":${i},"password":${i},"token":null,"client_secret":"cs-${i}"}\n`;
    else line = `ünïcødé ✓ line ${i} ${'lorem '.repeat(i % 40)}\n`;
    parts.push(Buffer.isBuffer(line) ? line : Buffer.from(line));
  }
  parts.push(Buffer.from(`last line without a feed ${OPENAI}`));
  return Buffer.concat(parts);
}

/** Feeds `input` in chunks of the given sizes (cycled); returns the output and the stats. */
async function run(stream: Transform & { stats: ScrubStats }, input: Buffer, chunkSizes: number[]): Promise<{ out: Buffer; stats: ScrubStats }> {
  return { out: await scrubInChunks(stream, input, chunkSizes), stats: stream.stats };
}

async function assertSameAsSingleThreaded(input: Buffer, chunkSizes: number[], options: ScrubOptions, threads = 2): Promise<Buffer> {
  const single = await run(createScrubStream(options), input, chunkSizes);
  const parallel = await run(createParallelScrubStream({ ...options, threads }), input, chunkSizes);
  assert.ok(single.out.equals(parallel.out), `output differs (${JSON.stringify(options)}, chunks ${chunkSizes})`);
  assert.deepEqual(parallel.stats, single.stats);
  return single.out;
}

describe('createParallelScrubStream', () => {
  const corpus = mixedCorpus();

  for (const format of ['text', 'ndjson', 'auto'] as const) {
    for (const mask of MASK_STYLES) {
      it(`writes exactly what the single-threaded stream writes: ${format}, mask ${mask}, small batches`, async () => {
        const options: ScrubOptions = { format, mask, fingerprintKey: KEY, maxLineBytes: 2000, batchBytes: 700 };
        const out = await assertSameAsSingleThreaded(corpus, [4096, 333, 65536], options);
        assert.ok(!out.includes(OPENAI) && !out.includes(GITHUB), 'a secret went through');
        assert.ok(!out.includes(Buffer.from(expandSample('{base64:64}', 4000))), 'a private-key body line went through');
      });
    }
  }

  it('writes the same under other chunkings and thread counts', async () => {
    for (const [sizes, threads] of [
      [[1], 3],
      [[7, 50], 2],
      [[corpus.length], 4],
    ] as Array<[number[], number]>) {
      await assertSameAsSingleThreaded(corpus, sizes, { format: 'auto', maxLineBytes: 2000, batchBytes: 512 }, threads);
    }
  });

  it('reuses the buffers of chunks handed back once written, without changing what is written next', async () => {
    const input = Buffer.concat(Array.from({ length: 8 }, () => mixedCorpus()));
    const options: ScrubOptions = { format: 'auto', batchBytes: 4096 };
    const single = await run(createScrubStream(options), input, [input.length]);
    const stream = createParallelScrubStream({ ...options, threads: 2 });
    const written: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      // As a sink does once its write is done: the bytes are out, the buffer is free.
      written.push(Buffer.from(chunk));
      stream.recycle(chunk);
    });
    const finished = once(stream, 'end');
    for (let at = 0; at < input.length; at += 65536) if (!stream.write(input.subarray(at, at + 65536))) await once(stream, 'drain');
    stream.end();
    await finished;
    assert.ok(Buffer.concat(written).equals(single.out));
  });

  it('keeps a private-key block in one batch, so it is one secret wherever the batch size falls', async () => {
    const input = Buffer.from('a\n'.repeat(50) + pemBlock(7, 20) + 'b\n');
    const outs = new Set<string>();
    for (const batchBytes of [64, 128, 300, 100_000]) {
      const { out, stats } = await run(createParallelScrubStream({ mask: 'fingerprint', fingerprintKey: KEY, batchBytes, threads: 2 }), input, [input.length]);
      assert.equal(stats.redactions['private-key'], 1);
      outs.add(out.toString());
    }
    assert.equal(outs.size, 1);
  });

  it('redacts a match spanning lines across a batch cut as a scrub of the whole text does, on 1 and 2 threads', async () => {
    // Every shipped line rule's sample that spans lines (a .netrc entry, a service account's JSON, key blocks),
    // between filler lines of varied lengths so batch cuts fall inside some of them.
    const detector = getDefaultDetector();
    const multiLine = detector.rules.filter((r) => !r.files && !r.keys).flatMap((r) => r.spec.samples.match.filter((m) => m.includes('\n')));
    assert.ok(multiLine.length >= 3);
    const parts: string[] = [];
    for (let i = 0; i < 400; i++)
      parts.push(`${i} ${'lorem ipsum '.repeat(i % 23)}\n`.repeat(1 + (i % 7)), `${expandSample(multiLine[i % multiLine.length]!, i)}\n`);
    const text = parts.join('');
    const whole = scrub(text, { format: 'text' });
    for (const batchBytes of [1500, 4096]) {
      const out = await assertSameAsSingleThreaded(Buffer.from(text), [65536, 777], { format: 'text', batchBytes });
      assert.equal(out.toString(), whole, `batches of ${batchBytes} bytes`);
    }
  });

  it('carries a block longer than a batch may hold into the next batch, as the single-threaded stream does', async () => {
    // Past the batcher's limit the block is cut; the next batch is scrubbed again from inside the block.
    const long = pemBlock(9, 1500);
    const input = Buffer.from('before\n' + long + 'after ' + OPENAI + '\n' + 'tail\n'.repeat(200));
    const out = await assertSameAsSingleThreaded(input, [65536], { batchBytes: 4096 });
    const lines = out.toString().split('\n');
    assert.equal(lines.length, input.toString().split('\n').length);
    assert.deepEqual(lines.slice(1, 1503), Array(1502).fill('[REDACTED:private-key]'));
    assert.equal(lines[1503], 'after [REDACTED:openai-project-key]');
  });

  it('writes a chunk out before the input ends (a live stream is not held back)', async () => {
    const stream = createParallelScrubStream({ threads: 2, batchBytes: 64 });
    const received: Buffer[] = [];
    stream.on('data', (c: Buffer) => received.push(c));
    stream.write(Buffer.from('x'.repeat(100) + '\nsecond ' + OPENAI + '\n'));
    const deadline = Date.now() + 20_000;
    while (Buffer.concat(received).toString().split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(Buffer.concat(received).toString(), 'x'.repeat(100) + '\nsecond [REDACTED:openai-project-key]\n');
    stream.end();
    await once(stream, 'end');
  });

  it('stops reading while the consumer does not read (bounded batches in flight)', async () => {
    let produced = 0;
    const line = Buffer.from(`{"msg":"${'y'.repeat(1000)}"}\n`);
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 200_000; i++) {
          produced += line.length;
          yield line;
        }
      })(),
    );
    const stream = createParallelScrubStream({ threads: 2, batchBytes: 16 * 1024 });
    source.pipe(stream);
    // Nobody reads: wait until production stalls, then check it stalled early.
    let last = -1;
    while (produced !== last) {
      last = produced;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(produced < 8 * 1024 * 1024, `read ${produced} bytes with no reader`);
    stream.destroy();
    source.destroy();
  });

  it('fills batches across chunks, so the 64 KiB chunks of a pipe reach the workers', async () => {
    const stream = createParallelScrubStream({ threads: 2 });
    const received: Buffer[] = [];
    stream.on('data', (c: Buffer) => received.push(c));
    const input = Buffer.from(`${'{"msg":"a line of a busy log"}\n'.repeat(40_000)}k=${OPENAI}\n`);
    for (let at = 0; at < input.length; at += 64 * 1024) stream.write(input.subarray(at, at + 64 * 1024));
    const deadline = Date.now() + 20_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(stream.workers, 2);
    stream.end();
    await once(stream, 'end');
    const out = Buffer.concat(received);
    assert.ok(out.toString().endsWith('k=[REDACTED:openai-project-key]\n'));
    assert.equal(out.length, input.length - OPENAI.length + '[REDACTED:openai-project-key]'.length);
  });
  it('scrubs a line of the longest length allowed, dense with escapes and fields, on a worker as on the main thread', async () => {
    const longest = 8 * 1024 * 1024 - 64;
    const escaped = `{"m":"${'{\\"key\\": \\"x\\", '.repeat(longest / 20)}"}\n`;
    const fields = `{${Array.from({ length: longest / 24 }, (_, i) => `"api_key${i % 10}":"v${i % 7}"`).join(',')}}\n`;
    for (const line of [escaped, fields]) {
      const stream = createParallelScrubStream({ threads: 2, format: 'ndjson' });
      const received: Buffer[] = [];
      stream.on('data', (c: Buffer) => received.push(c));
      stream.write(Buffer.from('{"msg":"warm up"}\n'.repeat(20_000)));
      // The long line comes once a worker is ready, so a worker, not this thread, scrubs it.
      const deadline = Date.now() + 20_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      stream.end(Buffer.from(line));
      await once(stream, 'end');
      const expected = scrub(line, { format: 'ndjson' });
      assert.ok(Buffer.concat(received).toString('latin1').endsWith(expected), 'the long line is scrubbed whole');
    }
  });
  it('defaults to one thread for an input known to be small, and to one per core otherwise', () => {
    assert.equal(defaultScrubThreads(100 * 1024 * 1024), 1);
    assert.equal(defaultScrubThreads(WORKERS_FROM_BYTES), availableParallelism());
    assert.equal(defaultScrubThreads(undefined), availableParallelism());
  });
  it('starts workers only once a batch fills: smaller inputs and live trickles are scrubbed on the main thread', async () => {
    const stream = createParallelScrubStream({ threads: 2, batchBytes: 4096 });
    const received: Buffer[] = [];
    stream.on('data', (c: Buffer) => received.push(c));
    const until = async (bytes: number) => {
      const deadline = Date.now() + 20_000;
      while (Buffer.concat(received).length < bytes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    stream.write(Buffer.from(`k=${OPENAI}\n`));
    await until(1);
    assert.equal(Buffer.concat(received).toString(), 'k=[REDACTED:openai-project-key]\n');
    assert.equal(stream.workers, 0);
    const big = Buffer.from('z'.repeat(99) + '\n')
      .subarray(0, 100)
      .toString()
      .repeat(100);
    stream.write(Buffer.from(big));
    await until(Buffer.byteLength('k=[REDACTED:openai-project-key]\n') + big.length);
    assert.equal(stream.workers, 2);
    stream.end();
    await once(stream, 'end');
  });
});

describe('createScrubPool (workers shared by many streams)', () => {
  const corpus = mixedCorpus();

  it('two streams at once on one pool each write exactly what the single-threaded stream writes, and leave the pool open', async () => {
    const options: ScrubOptions = { format: 'auto', mask: 'fingerprint', fingerprintKey: KEY, maxLineBytes: 2000, batchBytes: 700 };
    // Each stream keeps as many batches in flight as the pool has room for (threads x queue): together they
    // outnumber it, so each stream's batches also wait for the other's replies.
    const pool = createScrubPool({ ...options, threads: 2 });
    try {
      await pool.ready;
      const single = await run(createScrubStream(options), corpus, [4096]);
      for (let round = 0; round < 2; round++) {
        const streams = [createParallelScrubStream({ pool }), createParallelScrubStream({ pool })];
        const results = await Promise.all([run(streams[0]!, corpus, [4096]), run(streams[1]!, corpus, [333, 65536])]);
        for (const result of results) {
          assert.ok(result.out.equals(single.out), 'output differs from the single-threaded stream');
          assert.deepEqual(result.stats, single.stats);
        }
        assert.equal(streams[0]!.workers, 2);
      }
    } finally {
      await pool.close();
    }
  });

  it('fails the batch a worker could not scrub with ScrubWorkerError', async () => {
    const pool = createScrubPool({ threads: 1 });
    try {
      await assert.rejects(
        pool.scrub(
          {
            input: 'not bytes' as unknown as Uint8Array,
            batches: [{ length: 9, context: { before: new Uint8Array(0), after: new Uint8Array(0) } }],
            openBlockBefore: undefined,
          },
          [],
        ),
        ScrubWorkerError,
      );
    } finally {
      await pool.close();
    }
  });
});
