// The floor scrub is measured against: a plain Node readline pass-through of a file to stdout, line by line.
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: createReadStream(process.argv[2], { highWaterMark: 1024 * 1024 }), crlfDelay: Infinity });
let out = '';
for await (const line of lines) {
  out += line + '\n';
  // Written in about the batches scrub writes, so neither pays for a write per line.
  if (out.length >= 256 * 1024) {
    if (!process.stdout.write(out)) await once(process.stdout, 'drain');
    out = '';
  }
}
process.stdout.write(out);
