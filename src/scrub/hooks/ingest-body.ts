import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { WardenError } from '../../errors.js';

/** A batch the ingest point refuses while looking at or reading its body: the HTTP status and why. */
export class BodyRefused extends WardenError {
  constructor(
    readonly status: 400 | 408 | 413 | 415,
    message: string,
  ) {
    super(message, 'INGEST_BODY_REFUSED');
  }
}

/** A streaming decoder; `bytesWritten` is how much compressed input it has consumed so far. */
type Decoder = Transform & { readonly bytesWritten: number };

/**
 * The content codings the ingest point decodes (RFC 9110 §8.4.1: `deflate` is the zlib format). zstd is not
 * here: Node 20's zlib has no zstd decoder, and a body that cannot be decoded cannot be scrubbed.
 */
const DECODERS: Readonly<Record<string, () => Decoder>> = {
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/**
 * The decoder a `Content-Encoding` header asks for, or undefined for none (`identity`). An unknown coding
 * is refused (415) rather than forwarded unscrubbed; so are stacked codings (`gzip, gzip`): no shipper sends
 * them, and each layer multiplies what a small body inflates to.
 */
export function decoderFor(header: string | undefined): { name: string; create: () => Decoder } | undefined {
  const codings = (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  if (codings.length > 1) throw new BodyRefused(415, `stacked content codings (${codings.join(', ')}) are refused; send one of ${ACCEPTED_CODINGS}`);
  const create = Object.hasOwn(DECODERS, codings[0]!) ? DECODERS[codings[0]!] : undefined;
  if (!create) throw new BodyRefused(415, `content coding ${JSON.stringify(codings[0]!.slice(0, 40))} is not supported; send ${ACCEPTED_CODINGS} or none`);
  return { name: codings[0]!, create };
}

export const ACCEPTED_CODINGS = 'gzip, deflate or br';

export interface BodyLimits {
  /** Largest body, as received and after decoding (413). */
  maxBytes: number;
  /** Largest decoded-to-compressed ratio once the decoded body is past `ratioFloorBytes` (413). */
  maxCompressionRatio: number;
  ratioFloorBytes: number;
  /** A body slower than this over any `rateWindowMs` is refused (408). */
  minBytesPerSecond: number;
  rateWindowMs: number;
}

/**
 * Counts a request body as it arrives, whether it is being decoded or only drained after a refusal: refuses it
 * once it is over `maxBytes` (413), and when fewer than `minBytesPerSecond` arrived in the last window (408), so
 * a trickling upload cannot hold a slot or a connection until the request deadline.
 */
export class BodyWatch {
  bytes = 0;
  /** Set when `done` settles with a refusal. */
  refusal: BodyRefused | undefined;
  /** Undefined once the body was read to its end; the refusal when it was over a limit or cut short. */
  readonly done: Promise<BodyRefused | undefined>;

  constructor(req: IncomingMessage, limits: BodyLimits) {
    const minPerWindow = (limits.minBytesPerSecond * limits.rateWindowMs) / 1000;
    let bytesAtWindowStart = 0;
    this.done = new Promise((resolve) => {
      const settle = (refusal: BodyRefused | undefined) => {
        clearInterval(rateTimer);
        req.off('data', count).off('end', ended).off('close', closed);
        this.refusal = refusal;
        resolve(refusal);
      };
      const count = (chunk: Buffer) => {
        this.bytes += chunk.length;
        if (this.bytes > limits.maxBytes) settle(tooLarge(limits.maxBytes));
      };
      const ended = () => settle(undefined);
      const closed = () => settle(new BodyRefused(400, 'the body ended early: the client went away'));
      const rateTimer = setInterval(() => {
        if (this.bytes - bytesAtWindowStart < minPerWindow)
          settle(new BodyRefused(408, `body arrived slower than ${limits.minBytesPerSecond} bytes/s; send it at once`));
        bytesAtWindowStart = this.bytes;
      }, limits.rateWindowMs);
      if (req.complete && req.readableEnded) return settle(undefined);
      req.on('data', count).on('end', ended).on('close', closed);
    });
  }
}

/**
 * Counts what a decoder produces and fails at the first chunk past the size limit or the ratio limit. The
 * failure destroys the decoder in the same pipeline, so a bomb is inflated only up to the limit: the CPU spent
 * is bounded by the limit, not by what the body would inflate to.
 */
export class DecodedBody extends Transform {
  bytes = 0;

  constructor(
    private readonly limits: BodyLimits,
    private readonly decoder: Decoder,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const { maxBytes, maxCompressionRatio, ratioFloorBytes } = this.limits;
    if (this.bytes > maxBytes) return done(tooLarge(maxBytes));
    if (this.bytes > ratioFloorBytes && this.bytes > this.decoder.bytesWritten * maxCompressionRatio) {
      return done(new BodyRefused(413, `body inflates more than ${maxCompressionRatio}:1; refused as a decompression bomb`));
    }
    done(null, chunk);
  }
}

export function tooLarge(maxBytes: number): BodyRefused {
  return new BodyRefused(413, `batch over ${maxBytes} bytes (after decompression); send smaller batches`);
}
