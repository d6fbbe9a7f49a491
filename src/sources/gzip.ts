import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Gzip is told by its magic bytes, never by a file name: a dump renamed `.log` is still read. */
export function isGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** A file's bytes, gunzipped when the file is gzip. */
export async function openMaybeGzipped(path: string, highWaterMark = 1024 * 1024): Promise<Readable> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    ({ buffer: head } = await fh.read(Buffer.alloc(2), 0, 2, 0));
  } finally {
    await fh.close();
  }
  const raw = createReadStream(path, { highWaterMark });
  if (!isGzipMagic(head)) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}
