import { Transform, type TransformCallback } from 'node:stream';
import { getDefaultDetector, loadFingerprintKey, type Detector } from '../detect/index.js';
import type { MaskStyle } from './mask.js';
import { Scrubber, type ScrubFormat, type ScrubStats } from './scrubber.js';

export type MarkerShape = 'json' | 'text';

export interface ScrubOptions {
  format?: ScrubFormat;
  mask?: MaskStyle;
  /** Key for `mask: 'fingerprint'`; defaults to WARDEN_FINGERPRINT_KEY or the key file. */
  fingerprintKey?: Buffer;
  detector?: Detector;
  /** A line longer than this is withheld whole and replaced by a marker (fail closed). */
  maxLineBytes?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
/** Lines are gathered up to about this many bytes before one detector pass over them. */
const BATCH_BYTES = 256 * 1024;

export function createScrubber(options: ScrubOptions = {}): Scrubber {
  const mask = options.mask ?? 'full';
  return new Scrubber(options.detector ?? getDefaultDetector(), options.format ?? 'auto', {
    style: mask,
    ...(mask === 'fingerprint' ? { fingerprintKey: options.fingerprintKey ?? loadFingerprintKey() } : {}),
  });
}

/** Scrubs a whole string at once. */
export function scrub(text: string, options: ScrubOptions = {}): string {
  return createScrubber(options).scrubLines(text);
}

/**
 * What replaces a withheld line. In NDJSON it is a JSON object, so a sink that parses every line (ClickHouse
 * `JSONEachRow`, jq) still can; elsewhere a bracketed text marker.
 */
export function withheldMarker(bytes: number, shape: MarkerShape = 'text'): string {
  return shape === 'json' ? JSON.stringify({ warden: 'line withheld', reason: 'over-long', bytes }) : `[WARDEN:line-withheld:${bytes}-bytes-over-limit]`;
}

/**
 * A Transform that scrubs a byte stream line by line with bounded memory. Bytes are handled as latin1
 * so any input (binary, invalid UTF-8) passes through byte-exact where no secret is; lines are never
 * dropped, merged or reordered. A line over `maxLineBytes` is withheld and replaced by a marker.
 */
export class ScrubStream extends Transform {
  readonly scrubber: Scrubber;
  private readonly format: ScrubFormat;
  private readonly maxLineBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of an overlong line being discarded, or -1 when not inside one. */
  private overlong = -1;
  /** The marker for the overlong line being discarded, decided by its first bytes. */
  private overlongShape: MarkerShape = 'text';

  constructor(options: ScrubOptions = {}) {
    super();
    this.scrubber = createScrubber(options);
    this.format = options.format ?? 'auto';
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  get stats(): ScrubStats {
    return this.scrubber.stats;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.ingest(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.overlong >= 0) this.endOverlong('');
      else this.emitSegment(Buffer.alloc(0));
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private ingest(chunk: Buffer): void {
    let from = 0;
    if (this.overlong >= 0) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.overlong += chunk.length;
        return;
      }
      this.overlong += nl;
      this.endOverlong();
      from = nl + 1;
    }
    // Whole lines from segStart to lineStart are emitted in batches; pending bytes (the start of the
    // first line, carried from the previous chunk) belong to the segment until it is first emitted.
    let segStart = from;
    let lineStart = from;
    let carry = this.pendingBytes;
    for (;;) {
      const nl = chunk.indexOf(10, lineStart);
      if (nl === -1) break;
      const lineLength = nl - lineStart + (lineStart === segStart ? carry : 0);
      if (lineLength > this.maxLineBytes) {
        this.overlongShape = this.markerShapeOf(lineStart === segStart && carry > 0 ? this.pending[0]! : chunk.subarray(lineStart, nl));
        if (lineStart === segStart) this.dropPending();
        else this.emitSegment(chunk.subarray(segStart, lineStart));
        this.overlong = lineLength;
        this.endOverlong();
        segStart = nl + 1;
        carry = 0;
      } else if (carry > 0 && lineStart === segStart) {
        // The line carried from the last chunk ends here: emit it alone, so joining it to the carry copies
        // one line rather than a whole batch.
        this.emitSegment(chunk.subarray(segStart, nl + 1));
        segStart = nl + 1;
        carry = 0;
      } else if (nl + 1 - segStart + carry >= BATCH_BYTES) {
        this.emitSegment(chunk.subarray(segStart, nl + 1));
        segStart = nl + 1;
        carry = 0;
      }
      lineStart = nl + 1;
    }
    if (lineStart > segStart) this.emitSegment(chunk.subarray(segStart, lineStart));
    const rest = chunk.subarray(lineStart);
    if (rest.length === 0) return;
    if (this.pendingBytes + rest.length > this.maxLineBytes) {
      this.overlongShape = this.markerShapeOf(this.pending[0] ?? rest);
      this.overlong = this.pendingBytes + rest.length;
      this.dropPending();
      return;
    }
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }

  /** Emits the carried start of a line (if any) followed by `segment`, a run of whole lines. */
  private emitSegment(segment: Buffer): void {
    const bytes = this.pending.length ? Buffer.concat([...this.pending, segment]) : segment;
    this.dropPending();
    this.scrubAndPush(bytes);
  }

  private dropPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  private endOverlong(terminator = '\n'): void {
    const bytes = this.overlong;
    this.overlong = -1;
    this.scrubber.stats.withheldLines++;
    this.scrubber.stats.lines++;
    this.scrubber.stats.bytes += bytes + terminator.length;
    this.push(Buffer.from(withheldMarker(bytes, this.overlongShape) + terminator, 'latin1'));
  }

  /** NDJSON gets the JSON marker; `auto` too when the withheld line began like JSON. */
  private markerShapeOf(lineStart: Buffer): MarkerShape {
    if (this.format !== 'auto') return this.format === 'ndjson' ? 'json' : 'text';
    const first = lineStart.find((byte) => byte !== 32 && byte !== 9);
    return first === 123 || first === 91 ? 'json' : 'text';
  }

  private scrubAndPush(bytes: Buffer): void {
    if (bytes.length === 0) return;
    // latin1 maps bytes to chars one to one, so replacement offsets are byte offsets.
    const replacements = this.scrubber.plan(bytes.toString('latin1'));
    if (replacements.length === 0) {
      this.push(bytes);
      return;
    }
    const parts: Buffer[] = [];
    let at = 0;
    for (const r of replacements) {
      parts.push(bytes.subarray(at, r.start), Buffer.from(r.text, 'latin1'));
      at = r.end;
    }
    parts.push(bytes.subarray(at));
    this.push(Buffer.concat(parts));
  }
}

export function createScrubStream(options: ScrubOptions = {}): ScrubStream {
  return new ScrubStream(options);
}
