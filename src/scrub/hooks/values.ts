import { getDefaultDetector, loadFingerprintKey, type Detector } from '../../detect/index.js';
import { isSensitiveFieldName } from '../fields.js';
import { maskSecret, type MaskContext, type MaskStyle } from '../mask.js';
import { FIELD_RULE_ID } from '../scrubber.js';
import { createScrubber } from '../stream.js';

/** Options every logger and tracing hook takes. */
export interface HookOptions {
  detector?: Detector;
  mask?: MaskStyle;
  /** Key for `mask: 'fingerprint'`; defaults to WARDEN_FINGERPRINT_KEY or the key file. */
  fingerprintKey?: Buffer;
}

/** Deeper than this, a value is replaced whole: nothing unscanned leaves (fail closed). */
const MAX_DEPTH = 32;
export const DEPTH_MARKER = '[WARDEN:withheld-too-deep]';
/** No pattern rule matches anything this short (`pwd=x` is five); skipping saves a pass on every small string. */
const MIN_SCANNED_LENGTH = 5;

export interface ValueScrubber {
  /** Pattern rules over a string (NDJSON-aware when the string holds JSON). */
  text(value: string): string;
  /** The mask for a value kept because of its field name, whatever its shape. */
  field(value: unknown): unknown;
  /** A copy of any value with credential-named fields masked and strings scrubbed, at any depth. */
  value(value: unknown): unknown;
}

export function createValueScrubber(options: HookOptions = {}): ValueScrubber {
  const detector = options.detector ?? getDefaultDetector();
  const style = options.mask ?? 'full';
  const fingerprintKey = style === 'fingerprint' ? (options.fingerprintKey ?? loadFingerprintKey()) : undefined;
  const ctx: MaskContext = { style, ...(fingerprintKey ? { fingerprintKey } : {}) };
  const scrubber = createScrubber({ detector, mask: style, format: 'auto', ...(fingerprintKey ? { fingerprintKey } : {}) });
  const text = (s: string) => (s.length < MIN_SCANNED_LENGTH ? s : scrubber.scrubText(s));
  const field = (v: unknown): unknown => {
    if (v === null || v === undefined || typeof v === 'boolean' || v === '') return v;
    if (Array.isArray(v)) return v.map(field);
    return maskSecret(FIELD_RULE_ID, typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)), ctx);
  };
  const walk = (v: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof v === 'string') return text(v);
    if (v === null || typeof v !== 'object') return v;
    if (depth > MAX_DEPTH) return DEPTH_MARKER;
    if (seen.has(v)) return '[Circular]';
    seen.add(v);
    try {
      if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1, seen));
      if (v instanceof Map)
        return new Map([...v].map(([k, item]) => [k, typeof k === 'string' && isSensitiveFieldName(k) ? field(item) : walk(item, depth + 1, seen)]));
      const toJSON = (v as { toJSON?: () => unknown }).toJSON;
      // What a serialiser would write is what must be clean (Dates, Buffers, URL objects).
      if (typeof toJSON === 'function') return walk(toJSON.call(v), depth + 1, seen);
      const out: Record<string, unknown> = {};
      if (v instanceof Error) {
        out.name = v.name;
        out.message = text(v.message);
        if (v.stack) out.stack = text(v.stack);
      }
      for (const [k, item] of Object.entries(v)) out[k] = isSensitiveFieldName(k) ? field(item) : walk(item, depth + 1, seen);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return { text, field, value: (v) => walk(v, 0, new WeakSet()) };
}
