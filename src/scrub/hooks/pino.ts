import { createScrubStream, type ScrubStream } from '../stream.js';
import type { HookOptions } from './values.js';

export interface PinoDestinationOptions extends HookOptions {
  /** Lines longer than this are withheld whole (default 8 MiB). */
  maxLineBytes?: number;
}

/**
 * A pino destination: `pino(options, createPinoDestination(realDestination))`. Each NDJSON line pino
 * writes is scrubbed (pattern rules plus credential-named fields) before it reaches `destination`.
 * Ending the returned stream ends `destination` unless it is stdout or stderr.
 */
export function createPinoDestination(destination: NodeJS.WritableStream = process.stdout, options: PinoDestinationOptions = {}): ScrubStream {
  const stream = createScrubStream({ ...options, format: 'ndjson' });
  stream.pipe(destination, { end: destination !== process.stdout && destination !== process.stderr });
  return stream;
}
