/**
 * Value-shape tests: each answers whether one sampled value looks like a category. They read values in
 * memory only; nothing here keeps or returns the value.
 */
import { isIP } from 'node:net';
import type { Category } from './types.js';

/** A sampled value as text plus, when it is JSON (or arrived as an array/object), the parsed form. */
export interface SampledValue {
  text: string;
  json: unknown;
}

/** Declared types that hold no text: no prose, chat or secret can sit in them. */
export const NON_TEXT =
  /^(?:nullable\()?(?:u?int\d*|smallint|integer|bigint|serial|bigserial|real|double|double precision|float\d*|decimal|numeric|boolean|bool|tinyint|mediumint|date|datetime|datetime64|timestamp|time|year|interval|uuid|enum)/;

/** Longest text the shape tests and the detection engine read per value; log rows can be megabytes. */
export const MAX_VALUE_CHARS = 65_536;

export function toSampledValue(raw: unknown): SampledValue | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (Buffer.isBuffer(raw)) return undefined;
  if (raw instanceof Date) return { text: raw.toISOString(), json: undefined };
  if (typeof raw === 'object') return { text: JSON.stringify(raw).slice(0, MAX_VALUE_CHARS), json: raw };
  const text = String(raw).slice(0, MAX_VALUE_CHARS);
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return { text, json: JSON.parse(text) };
    } catch {
      // A truncated or non-JSON value is still text.
    }
  }
  return { text, json: undefined };
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'function', 'developer', 'model', 'human', 'ai']);
/** A chat role as one row per message stores it in its own column (`role`: system, user, assistant…). */
export const isMessageRole = (v: SampledValue) => ROLES.has(v.text.trim().toLowerCase());
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isMessageArray(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((m) => isObject(m) && typeof m.role === 'string' && ROLES.has(m.role) && ('content' in m || 'parts' in m || 'tool_calls' in m))
  );
}

/** `[{role, content}, …]` or a request body holding `messages`/`contents`. */
export function isChatTranscript(v: SampledValue): boolean {
  const j = v.json;
  if (isMessageArray(j)) return true;
  return isObject(j) && (isMessageArray(j.messages) || isMessageArray(j.contents) || isMessageArray(j.history));
}

/**
 * A provider response: `choices[…]`, an Anthropic `message` from the assistant, `output_text`/`generated_text`,
 * or messages all from the assistant (OpenTelemetry's `gen_ai.completion`, `gen_ai.output.messages`).
 */
export function isCompletionBody(v: SampledValue): boolean {
  const j = v.json;
  if (Array.isArray(j) && j.length > 0 && isObject(j[0]) && typeof j[0].generated_text === 'string') return true;
  if (isMessageArray(j) && (j as Array<{ role: string }>).every((m) => m.role === 'assistant' || m.role === 'model')) return true;
  if (!isObject(j)) return false;
  if (Array.isArray(j.choices) && j.choices.some((c) => isObject(c) && ('message' in c || 'text' in c || 'delta' in c))) return true;
  if (j.type === 'message' && j.role === 'assistant' && 'content' in j) return true;
  return typeof j.output_text === 'string' || typeof j.completion === 'string';
}

/** OpenAI `tool_calls`/`function_call`, Anthropic `tool_use`, or an MCP `tools/call` request. */
export function isToolCall(v: SampledValue): boolean {
  const one = (c: unknown): boolean =>
    isObject(c) &&
    ((c.type === 'function' && isObject(c.function) && typeof c.function.name === 'string') ||
      (c.type === 'tool_use' && typeof c.name === 'string') ||
      (typeof c.name === 'string' && ('arguments' in c || 'input' in c)) ||
      (c.method === 'tools/call' && isObject(c.params)) ||
      (Array.isArray(c.tool_calls) && c.tool_calls.some(one)) ||
      isObject(c.function_call));
  const j = v.json;
  return Array.isArray(j) ? j.length > 0 && j.every(one) : one(j);
}

/**
 * One-way password hashes in the formats libraries store: bcrypt, Argon2, scrypt (passlib, libsodium `$7$`,
 * yescrypt, Django), PBKDF2 (Django, passlib, Werkzeug), SHA-crypt and MD5-crypt. They cannot be replayed as
 * a credential can, so they are their own category; Django's `algorithm$…` wrappers count too.
 */
const PASSWORD_HASHES = [
  /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/,
  /^\$argon2(?:id|i|d)\$(?:v=\d{1,3}\$)?m=\d{1,8},t=\d{1,4},p=\d{1,3}\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,128}$/,
  /^\$scrypt\$[\w=,]{1,64}\$[A-Za-z0-9+/.=]{8,128}\$[A-Za-z0-9+/.=]{16,128}$/,
  /^\$7\$[./A-Za-z0-9]{11,64}\$[./A-Za-z0-9]{43}$/,
  /^\$g?y\$[./A-Za-z0-9]{1,32}\$[./A-Za-z0-9]{1,64}\$[./A-Za-z0-9]{43}$/,
  /^scrypt\$\d{1,9}\$[A-Za-z0-9+/.=]{8,128}\$\d{1,3}\$\d{1,3}\$[A-Za-z0-9+/=]{16,128}$/,
  /^pbkdf2_sha(?:1|256|512)\$\d{1,9}\$[A-Za-z0-9+/.=]{1,128}\$[A-Za-z0-9+/=]{16,128}$/,
  /^\$pbkdf2(?:-sha(?:1|256|512))?\$\d{1,9}\$[A-Za-z0-9+/.=]{1,128}\$[A-Za-z0-9+/.=]{16,128}$/,
  /^pbkdf2:sha(?:1|256|512):\d{1,9}\$[!-#%-~]{1,128}\$[0-9a-f]{32,128}$/,
  /^\$[56]\$(?:rounds=\d{1,9}\$)?[./A-Za-z0-9]{0,16}\$(?:[./A-Za-z0-9]{86}|[./A-Za-z0-9]{43})$/,
  /^\$(?:1|apr1)\$[./A-Za-z0-9]{0,8}\$[./A-Za-z0-9]{22}$/,
];

export function isPasswordHashText(text: string): boolean {
  const t = text
    .trim()
    .replace(/^(?:argon2|bcrypt|bcrypt_sha256)\$(?=\$)/, '')
    .replace(/^argon2(?=\$argon2)/, '');
  return t.length <= 512 && PASSWORD_HASHES.some((p) => p.test(t));
}

/** A JSON object or array (tool arguments, request bodies): what an `arguments` column holds. */
export const isJsonDocument = (v: SampledValue) => typeof v.json === 'object' && v.json !== null;

/**
 * Attribute keys that say what an OpenTelemetry span or log record carries: the GenAI semantic conventions
 * (`gen_ai.prompt`, `gen_ai.input.messages`, `gen_ai.completion`, `gen_ai.tool.call.arguments`…, also
 * indexed as `gen_ai.prompt.0.content`) and OpenInference's `llm.input_messages`, `input.value`….
 */
const GENAI_KEYS: Array<{ category: 'prompt' | 'completion' | 'tool-call' | 'chat-transcript'; key: RegExp }> = [
  { category: 'prompt', key: /^(?:gen_ai\.(?:prompt|input\.messages|system_instructions)|llm\.(?:prompts|input_messages)|input\.value)(?:\.|$)/ },
  { category: 'completion', key: /^(?:gen_ai\.(?:completion|output\.messages)|llm\.output_messages|output\.value)(?:\.|$)/ },
  { category: 'tool-call', key: /^(?:gen_ai\.tool\.call\.(?:arguments|result)|tool\.parameters|tool_call\.function\.arguments)(?:\.|$)/ },
  {
    category: 'chat-transcript',
    key: /^(?:gen_ai\.(?:prompt|completion)\.\d+\.role|gen_ai\.(?:input|output)\.messages|llm\.(?:input|output)_messages\.\d+\.message\.role)$/,
  },
];

/** Flattened attribute keys of a JSON object, nested objects joined with dots, at most three levels down. */
function attributeKeys(j: Record<string, unknown>, prefix = '', depth = 0, out: string[] = []): string[] {
  for (const [k, v] of Object.entries(j)) {
    const key = prefix + k;
    out.push(key);
    if (depth < 2 && isObject(v)) attributeKeys(v, `${key}.`, depth + 1, out);
  }
  return out;
}

/** Which AI categories an attributes map carries, by its keys; a prompt attribute holding messages is a chat too. */
export function genAiAttributeCategories(v: SampledValue): Set<Category> {
  const found = new Set<Category>();
  if (!isObject(v.json)) return found;
  const j = v.json;
  for (const key of attributeKeys(j)) for (const g of GENAI_KEYS) if (g.key.test(key)) found.add(g.category);
  for (const key of ['gen_ai.prompt', 'gen_ai.completion']) {
    const value = j[key];
    if (typeof value === 'string' && isChatTranscript(toSampledValue(value) ?? { text: '', json: undefined })) found.add('chat-transcript');
  }
  return found;
}

/** A numeric vector; the caller checks that every sampled vector has the same length. */
export function vectorLength(v: SampledValue): number | undefined {
  let arr = v.json;
  // pgvector's text form is `[0.1,0.2,…]`, already parsed as JSON above.
  if (!Array.isArray(arr) && typeof v.text === 'string' && /^\{[-\d.eE,+ ]+\}$/.test(v.text)) arr = v.text.slice(1, -1).split(',').map(Number);
  if (!Array.isArray(arr) || arr.length < 16) return undefined;
  for (const x of arr) if (typeof x !== 'number' && !(typeof x === 'string' && x !== '' && Number.isFinite(Number(x)))) return undefined;
  return arr.length;
}

const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}$/;
export const isEmail = (v: SampledValue) => EMAIL.test(v.text.trim());

/** Formatted numbers (`+49 30 1234567`, `(555) 010-9999`); bare digit runs only when `bareDigits`, since ids look the same. */
export function isPhone(v: SampledValue, bareDigits: boolean): boolean {
  const t = v.text.trim();
  if (!/^\+?[\d\s().-]{7,22}$/.test(t) || isIP(t) !== 0) return false;
  const digits = t.replace(/\D/g, '').length;
  if (digits < 7 || digits > 15) return false;
  return t.startsWith('+') || /[\s().-]/.test(t) || bareDigits;
}

export const isIpAddress = (v: SampledValue) => isIP(v.text.trim()) !== 0;

/** Two or three capitalised words: weak on its own, which its confidence reflects. */
export const isPersonName = (v: SampledValue) => /^\p{Lu}[\p{L}'’-]{1,30}(?: \p{Lu}\.?)?(?: \p{Lu}[\p{L}'’-]{1,30}){1,2}$/u.test(v.text.trim());

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** 13–19 digits (spaces or dashes allowed) with a card-network first digit, passing the Luhn check. */
export function isPaymentCard(v: SampledValue): boolean {
  const t = v.text.trim();
  if (!/^\d[\d -]{11,22}\d$/.test(t)) return false;
  const digits = t.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && /^[2-6]/.test(digits) && luhnValid(digits);
}

/** Sentence-like text: several words, mostly letters and spaces, long enough to say something. */
export function isNaturalLanguage(v: SampledValue): boolean {
  if (v.json !== undefined) return false;
  const t = v.text;
  if (t.length < 24) return false;
  const words = t.split(/\s+/).filter((w) => /\p{L}{2,}/u.test(w)).length;
  if (words < 5) return false;
  const letters = (t.match(/[\p{L}\s]/gu) ?? []).length;
  return letters / t.length >= 0.7;
}

const MODEL_NAME = /^(?:gpt-|o[1-9](?:-|$)|chatgpt-|claude-|deepseek-|gemini-|llama|meta-llama\/|mistral|mixtral|command-|qwen|text-embedding-|embed-|grok-)/i;
const IDENTIFIER = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z]{2,12}[-_][A-Za-z0-9]{6,40}|[0-9a-f]{16,64})$/i;

/** Ids, model names, counts, latencies, status codes and timestamps: the bookkeeping around a request. */
export function isRequestMetadata(v: SampledValue): boolean {
  const t = v.text.trim();
  if (t.length === 0 || t.length > 128) return false;
  return MODEL_NAME.test(t) || IDENTIFIER.test(t) || /^-?\d+(?:\.\d+)?$/.test(t) || (!Number.isNaN(Date.parse(t)) && /\d{4}-\d{2}-\d{2}/.test(t));
}

/** A short token without spaces (`tenant-7`, `eu-west-1`, `200`): what bookkeeping columns hold once a name says so. */
export const isShortToken = (v: SampledValue) => /^[\w.:/@-]{1,64}$/.test(v.text.trim());
