// A planted line passes a scrubbed stream byte for byte; the same secret on any other line is redacted.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text as streamText } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { createParallelScrubStream, createScrubStream, KeepLinesError, plantedLineHash, readKeepLines } from './index.js';

// Assembled at run time so no credential-shaped literal sits in the repository.
const KEY = ['wdn', 'live', 'Q7m2Xc9LpT4vB8nR1sK6yH3dF5gJ0aZeWuYiOoPl'].join('_');
const PLANTED = `{"level":"info","msg":"upstream call","authorization":"Bearer ${KEY}"}`;
const ELSEWHERE = `{"level":"info","msg":"retry","authorization":"Bearer ${KEY}"}`;

async function run(input: string, keepLines: string[], threads: number): Promise<string> {
  const options = { format: 'ndjson' as const, keepLines, batchBytes: 64 };
  const stream = threads === 1 ? createScrubStream(options) : createParallelScrubStream({ ...options, threads });
  return streamText(Readable.from([Buffer.from(input)]).pipe(stream));
}

describe('planted lines (keep list)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-keep-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const threads of [1, 2]) {
    it(`keeps only the planted line, with LF and CRLF, on ${threads} thread(s)`, async () => {
      const input = `${ELSEWHERE}\n${PLANTED}\r\n${PLANTED} \n${PLANTED}\n`;
      const out = (await run(input, [plantedLineHash(PLANTED)], threads)).split('\n');
      assert.doesNotMatch(out[0]!, /wdn_live_/, 'the same key on another line is redacted');
      assert.equal(out[1], `${PLANTED}\r`, 'the planted line passes byte for byte');
      assert.doesNotMatch(out[2]!, /wdn_live_/, 'one byte more is another line');
      assert.equal(out[3], PLANTED);
      assert.doesNotMatch(await run(input, [], threads), /wdn_live_/, 'without the keep list every copy is redacted');
    });
  }

  it('reads a keep list of hashes and refuses anything else', () => {
    const good = join(dir, 'good');
    writeFileSync(good, `# planted by warden keys canary\n${plantedLineHash(PLANTED).toUpperCase()}\n\n`);
    assert.deepEqual(readKeepLines(good), [plantedLineHash(PLANTED)]);
    const bad = join(dir, 'bad');
    writeFileSync(bad, `${PLANTED}\n`);
    assert.throws(
      () => readKeepLines(bad),
      (err: Error) => err instanceof KeepLinesError && /bad:1: expected the SHA-256/.test(err.message) && !err.message.includes(KEY),
    );
    assert.throws(() => readKeepLines(join(dir, 'missing')), KeepLinesError);
  });
});
