import { Readable, type Transform } from 'node:stream';

/** For tests: feeds `input` through `stream` in chunks of the given sizes (cycled) and returns the output bytes. */
export async function scrubInChunks(stream: Transform, input: Buffer, chunkSizes: number[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    chunks.push(input.subarray(at, at + size));
    at += size;
  }
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(stream)) out.push(c as Buffer);
  return Buffer.concat(out);
}
