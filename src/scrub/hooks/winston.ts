import { createValueScrubber, type HookOptions } from './values.js';

const MESSAGE = Symbol.for('message');
const SPLAT = Symbol.for('splat');

/** The part of winston's (logform's) format interface Warden needs; no winston import is required. */
export interface WinstonFormat {
  transform(info: WinstonInfo): WinstonInfo;
}
export type WinstonInfo = Record<string | symbol, unknown> & { level: string; message: unknown };

/**
 * A winston format that scrubs the info object before any transport sees it: the message, every meta
 * field (credential-named fields masked at any depth) and, when placed after a finalising format such
 * as `format.json()`, the serialised line too. Put it last in `format.combine(...)`.
 */
export function createWinstonScrubFormat(options: HookOptions = {}): WinstonFormat {
  const scrubber = createValueScrubber(options);
  return {
    transform(info) {
      // Top-level info is winston's own per-call object; nested user objects are replaced by scrubbed copies.
      for (const key of Object.keys(info)) {
        if (key === 'level') continue;
        const scrubbed = (scrubber.value({ [key]: info[key] }) as Record<string, unknown>)[key];
        if (scrubbed !== info[key]) info[key] = scrubbed;
      }
      if (typeof info[MESSAGE] === 'string') info[MESSAGE] = scrubber.text(info[MESSAGE]);
      if (Array.isArray(info[SPLAT])) info[SPLAT] = scrubber.value(info[SPLAT]);
      return info;
    },
  };
}
