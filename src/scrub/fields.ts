import { FIELD_NAME_HINTS } from '../detect/index.js';
import { KeywordPrefilter } from '../detect/prefilter.js';
import { detachedString } from '../detached-string.js';

/**
 * Structure-aware redaction for NDJSON: values of fields whose names mark credentials are secret
 * whatever they look like. This finds their spans in the raw line so the line is rewritten in place
 * (clean bytes stay byte-identical; no parse-and-reserialise).
 */

const SENSITIVE_NAMES = new Set([
  'authorization',
  'proxy_authorization',
  'cookie',
  'set_cookie',
  'x_api_key',
  'api_key',
  'apikey',
  'x_auth_token',
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'client_secret',
  'private_key',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'auth_token',
  'session_token',
  'sessionid',
  'session_id_token',
  'x_clickhouse_key',
  'x_amz_security_token',
  'secret_key',
  'access_key',
  'secret_access_key',
  'aws_secret_access_key',
  'api_token',
  'bearer',
  'credentials',
  'credential',
  'x_goog_api_key',
  'openai_api_key',
  'anthropic_api_key',
  'x_access_token',
  // One-time and short codes are credentials too, however few their digits (fail closed).
  'otp',
  'totp',
  'hotp',
  'otp_code',
  'otpcode',
  'passcode',
  'pin',
  'pin_code',
  'pincode',
  'mfa_code',
  'mfacode',
  '2fa_code',
  'verification_code',
  'verificationcode',
  'security_code',
  'securitycode',
  'auth_code',
  'authcode',
  'authorization_code',
  'cvv',
  'cvc',
  'jwt',
  'client_assertion',
]);

/** Names that end like credentials but are counts and metadata that fill AI logs. */
const BENIGN_NAMES = new Set([
  'token_count',
  'tokens',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'max_tokens',
  'max_new_tokens',
  'tokenizer',
  'key_id',
  'api_version',
  'page_token',
  'next_token',
  'next_page_token',
  'continuation_token',
  'token_type',
  'secret_name',
  'password_changed',
  'password_policy',
  'cached_tokens',
  'reasoning_tokens',
  'resume_token',
  'eos_token',
  'bos_token',
  'pad_token',
  'unk_token',
  'sep_token',
  'cls_token',
  'mask_token',
]);

const SUFFIXES = [
  '_secret',
  '_password',
  '_token',
  '_api_key',
  '_apikey',
  '_access_key',
  '_private_key',
  '_passwd',
  '_otp',
  '_pin',
  '_passcode',
  '_verification_code',
  '_mfa_code',
];

/** Verdicts by name as written: a log repeats the same few field names on every line. */
const verdicts = new Map<string, boolean>();
/** Names remembered at most (a log of ever-new names must not grow the map without bound). */
const MAX_VERDICTS = 4096;

export function isSensitiveFieldName(name: string): boolean {
  let verdict = verdicts.get(name);
  if (verdict === undefined) {
    const n = name.toLowerCase().replace(/-/g, '_');
    verdict = !BENIGN_NAMES.has(n) && (SENSITIVE_NAMES.has(n) || SUFFIXES.some((s) => n.endsWith(s)));
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    // A copy: the name is a slice of its batch, which it would keep alive for as long as it is remembered.
    verdicts.set(detachedString(name), verdict);
  }
  return verdict;
}

/** Characters a name may hold on each side of its hint. */
const NAME_SIDE = 40;

/** The hint automaton, built once per thread on first use (where the detector does not watch the hints). */
let nameHints: KeywordPrefilter | undefined;

/**
 * Offsets in `text` of quoted names that are sensitive field names, in order: a name is a quoted run
 * without quotes, backslashes or line breaks, holding a hint (FIELD_NAME_HINTS) with at most NAME_SIDE
 * characters on each side, and followed by `:` (a key) or `,` (a header name in a pair). The hints are
 * found by an automaton (a regex doing this was a sixth of NDJSON mode's CPU profile), so only the few
 * names holding one are read; "prompt_tokens" costs a check and a set lookup. `hints`: the hints'
 * occurrences as a detector that watches them reported them (Detector.scan), so the text is not walked
 * again; else this walks it.
 */
export function sensitiveNameOffsets(text: string, hints?: readonly number[]): number[] {
  const out: number[] = [];
  let lastName = -1;
  const name = (end: number, hint: number) => {
    const open = quoteBefore(text, end - FIELD_NAME_HINTS[hint]!.length);
    if (open === -1 || open === lastName) return;
    const close = quoteAfter(text, end);
    if (close === -1 || !keySeparatorAfter(text, close + 1)) return;
    lastName = open;
    if (isSensitiveFieldName(text.slice(open + 1, close))) out.push(open);
  };
  if (hints) {
    for (let i = 0; i < hints.length; i += 2) name(hints[i]! + 1, hints[i + 1]!);
    return out;
  }
  const automaton = (nameHints ??= new KeywordPrefilter([...FIELD_NAME_HINTS]));
  const { states, ends, count } = automaton.occurrences(text);
  for (let h = 0; h < count; h++) for (const k of automaton.keywordsAt(states[h]!)) name(ends[h]! + 1, k);
  return out;
}

/** The quote opening a name whose hint starts at `start`, or -1. */
function quoteBefore(text: string, start: number): number {
  for (let i = start - 1; i >= 0 && i >= start - NAME_SIDE - 1; i--) {
    const c = text.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92 || c === 10) return -1;
  }
  return -1;
}

/** The quote closing a name whose hint ends before `end`, or -1. */
function quoteAfter(text: string, end: number): number {
  for (let i = end; i < text.length && i <= end + NAME_SIDE; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92 || c === 10) return -1;
  }
  return -1;
}

/** Whether spaces or tabs and then `:` or `,` start at `at`. */
function keySeparatorAfter(text: string, at: number): boolean {
  let i = at;
  while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
  const c = text.charCodeAt(i);
  return c === 58 || c === 44;
}

export interface FieldSpan {
  /** Raw offsets of the value: for a string, its contents without quotes; otherwise the whole value. */
  start: number;
  end: number;
  /** The value was not a string: the replacement must bring its own quotes. */
  quote: boolean;
  field: string;
}

const MAX_DEPTH = 256;

class Cursor {
  i: number;
  constructor(
    readonly s: string,
    start: number,
    readonly end: number,
  ) {
    this.i = start;
  }
  ws(): void {
    const { s } = this;
    while (this.i < this.end) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }
}

class NotJson extends Error {}

/**
 * Spans of sensitive values in one JSON text (an NDJSON line) between `start` and `end`; undefined
 * when it is not a JSON object or array (the caller then relies on pattern rules alone).
 */
export function sensitiveFieldSpans(s: string, start = 0, end = s.length): FieldSpan[] | undefined {
  const cur = new Cursor(s, start, end);
  const spans: FieldSpan[] = [];
  try {
    cur.ws();
    const c = s[cur.i];
    if (c !== '{' && c !== '[') return undefined;
    value(cur, spans, 0, false);
    cur.ws();
    if (cur.i !== end) return undefined;
  } catch (err) {
    if (err instanceof NotJson) return undefined;
    throw err;
  }
  return spans;
}

interface Parsed {
  start: number;
  end: number;
  kind: 'string' | 'number' | 'other';
  /** Decoded text of a short string when asked for (names, header names), and of true, false and null. */
  text?: string;
}

/** A member's name that may label a header object ({"name": "Authorization", "value": "Bearer …"}). */
const LABEL_NAME = /^(?:name|key|header)$/i;
/** The member holding a labelled header's value. */
const VALUE_NAME = /^values?$/i;
/** A number, true, false or null, from where it starts (sticky). */
const PLAIN_VALUE = /(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/y;

/**
 * Parses the value at the cursor, adding the spans of sensitive fields inside it. `wantText`: a short
 * string's decoded text is needed (Parsed.text); decoding every short value would cost a string each.
 */
function value(cur: Cursor, spans: FieldSpan[], depth: number, wantText: boolean): Parsed {
  if (depth > MAX_DEPTH) throw new NotJson();
  cur.ws();
  const { s } = cur;
  const start = cur.i;
  const c = s.charCodeAt(cur.i);
  if (c === 34) return string(cur, wantText);
  if (c === 123) {
    cur.i++;
    // Only the members that matter are kept: sensitive ones, and a header object's label and value.
    let sensitive: Array<{ name: string; value: Parsed }> | undefined;
    let logprobsEntry = false;
    let label: Parsed | undefined;
    let labelled: Parsed | undefined;
    cur.ws();
    if (s.charCodeAt(cur.i) === 125) {
      cur.i++;
    } else {
      for (;;) {
        cur.ws();
        if (s.charCodeAt(cur.i) !== 34) throw new NotJson();
        const name = string(cur, true).text ?? '';
        cur.ws();
        if (s.charCodeAt(cur.i) !== 58) throw new NotJson();
        cur.i++;
        const isLabel = label === undefined && LABEL_NAME.test(name);
        const v = value(cur, spans, depth + 1, isLabel);
        if (isSensitiveFieldName(name)) (sensitive ??= []).push({ name, value: v });
        if (name === 'logprob') logprobsEntry = true;
        if (isLabel && v.text !== undefined) label = v;
        if (labelled === undefined && VALUE_NAME.test(name)) labelled = v;
        cur.ws();
        const next = s.charCodeAt(cur.i);
        if (next === 44) {
          cur.i++;
          continue;
        }
        if (next === 125) {
          cur.i++;
          break;
        }
        throw new NotJson();
      }
    }
    for (const m of sensitive ?? []) {
      // A model's logprobs entry ({"token": " the", "logprob": -0.75}) names a piece of text, not a credential.
      if (logprobsEntry && m.name === 'token') continue;
      // A number under a token name is a count ("token": 20970); under a password name it is still a password.
      if (m.value.kind === 'number' && /token$/i.test(m.name)) continue;
      addSpan(spans, m.value, m.name);
    }
    // Header objects: {"name": "Authorization", "value": "Bearer …"}
    if (label && labelled && isSensitiveFieldName(label.text!)) addSpan(spans, labelled, label.text!);
    return { start, end: cur.i, kind: 'other' };
  }
  if (c === 91) {
    cur.i++;
    // Header pairs: ["Authorization", "Bearer …"]; only a first and a second item can make one.
    let count = 0;
    let first: Parsed | undefined;
    let second: Parsed | undefined;
    cur.ws();
    if (s.charCodeAt(cur.i) === 93) {
      cur.i++;
    } else {
      for (;;) {
        const item = value(cur, spans, depth + 1, count === 0);
        if (count === 0) first = item;
        else if (count === 1) second = item;
        count++;
        cur.ws();
        const next = s.charCodeAt(cur.i);
        if (next === 44) {
          cur.i++;
          continue;
        }
        if (next === 93) {
          cur.i++;
          break;
        }
        throw new NotJson();
      }
    }
    if (count === 2 && first!.text !== undefined && isSensitiveFieldName(first!.text)) addSpan(spans, second!, first!.text);
    return { start, end: cur.i, kind: 'other' };
  }
  // Number, true, false, null: a run of the characters they are written with, which must be one of them.
  while (cur.i < cur.end && isPlainValueChar(s.charCodeAt(cur.i))) cur.i++;
  if (cur.i === start) throw new NotJson();
  PLAIN_VALUE.lastIndex = start;
  if (!PLAIN_VALUE.test(s) || PLAIN_VALUE.lastIndex !== cur.i) throw new NotJson();
  const word = c === 116 || c === 102 || c === 110 ? s.slice(start, cur.i) : undefined;
  return word !== undefined ? { start, end: cur.i, kind: 'other', text: word } : { start, end: cur.i, kind: 'number' };
}

/** `-`, `+`, `.`, a digit or an ASCII letter: what numbers, true, false and null are written with. */
function isPlainValueChar(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 45 || c === 43 || c === 46;
}

/**
 * What ends a run of plain characters in a JSON string: a quote, a backslash or a control character (a
 * line feed among them, so a search never runs past its line). Found by the regex engine, not a loop over
 * every character: long prompts and completions are most of a log line.
 */
const STRING_STOP = /["\\\x00-\x1f]/g;

function string(cur: Cursor, wantText: boolean): Parsed {
  const { s } = cur;
  const start = cur.i;
  cur.i++;
  let escaped = false;
  while (cur.i < cur.end) {
    STRING_STOP.lastIndex = cur.i;
    const stop = STRING_STOP.exec(s);
    if (!stop || stop.index >= cur.end) break;
    cur.i = stop.index;
    const c = s.charCodeAt(cur.i);
    if (c === 92) {
      escaped = true;
      cur.i += 2;
      continue;
    }
    if (c === 34) {
      cur.i++;
      // Long strings (prompts, completions) are neither decoded nor checked; a short one with escapes is
      // decoded even when its text is not wanted, so a bad escape makes the line not JSON all the same.
      if (cur.i - start - 2 > 64 || (!wantText && !escaped)) return { start, end: cur.i, kind: 'string' };
      const raw = s.slice(start + 1, cur.i - 1);
      let text: string;
      try {
        text = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
      } catch {
        throw new NotJson();
      }
      return wantText ? { start, end: cur.i, kind: 'string', text } : { start, end: cur.i, kind: 'string' };
    }
    throw new NotJson();
  }
  throw new NotJson();
}

function addSpan(spans: FieldSpan[], v: Parsed, field: string): void {
  if (v.kind === 'string') {
    if (v.end - v.start > 2) spans.push({ start: v.start + 1, end: v.end - 1, quote: false, field });
    return;
  }
  if (v.text === 'null' || v.text === 'true' || v.text === 'false') return;
  spans.push({ start: v.start, end: v.end, quote: true, field });
}
