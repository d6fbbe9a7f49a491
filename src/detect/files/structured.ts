import type { KeyValue } from '../types.js';

/**
 * Structured files parsed into key/value pairs placed in the text, so key rules find a value by the key
 * it sits under. Each parser is forgiving: what it cannot read it leaves to the line rules, which run on
 * every file anyway (a parse failure is never silence).
 */
export type StructuredFormat = 'json' | 'yaml' | 'xml' | 'php' | 'key-value';

/** Files larger than this are left to the line rules alone. */
export const STRUCTURED_MAX_CHARS = 4 * 1024 * 1024;

const BY_EXTENSION: Record<string, StructuredFormat> = {
  json: 'json',
  jsonc: 'json',
  json5: 'json',
  yml: 'yaml',
  yaml: 'yaml',
  xml: 'xml',
  config: 'xml',
  xaml: 'xml',
  plist: 'xml',
  php: 'php',
  inc: 'php',
  ini: 'key-value',
  cfg: 'key-value',
  cnf: 'key-value',
  conf: 'key-value',
  properties: 'key-value',
  env: 'key-value',
  toml: 'key-value',
  prefs: 'key-value',
  rc: 'key-value',
  keys: 'key-value',
};

/** Credential files without a telling extension, by name or path suffix. */
const BY_NAME: Array<[RegExp, StructuredFormat]> = [
  [/(?:^|\/)(?:\.dockercfg|\.ftpconfig|\.remote-sync\.json|\.jsbeautifyrc)$/, 'json'],
  [/(?:^|\/)(?:\.kube\/config|kubeconfig|\.config\/hub|\.tugboat|\.gem\/credentials|\.travis\.yml)$/, 'yaml'],
  [
    /(?:^|\/)(?:\.env(?:\.[\w.-]+)?|[\w.-]*\.env|\.npmrc|\.yarnrc|\.pypirc|\.s3cfg|\.boto|\.esmtprc|\.muttrc|\.my\.cnf|\.pgpass|credentials|config|hosts|inventory|servlist_?\.conf|[\w.-]*rc)$/i,
    'key-value',
  ],
];

/** The format a file's name says, else what its first characters say; undefined for anything else (code, prose). */
export function structuredFormat(path: string, text: string): StructuredFormat | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  const byExtension = dot > 0 ? BY_EXTENSION[name.slice(dot + 1).toLowerCase()] : undefined;
  if (byExtension) return byExtension;
  for (const [pattern, format] of BY_NAME) if (pattern.test(path)) return format;
  if (dot > 0) return undefined;
  const head = text
    .slice(0, 256)
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (head.startsWith('{')) return 'json';
  if (head.startsWith('<?xml')) return 'xml';
  if (head.startsWith('---') || /^apiVersion:/.test(head)) return 'yaml';
  if (head.startsWith('<?php')) return 'php';
  return undefined;
}

/** The key/value pairs of `text` read as `format`; JSON that does not parse is read as key-value lines. */
export function parseStructured(format: StructuredFormat, text: string): KeyValue[] {
  switch (format) {
    case 'json':
      return parseJson(text) ?? parseKeyValueLines(text);
    case 'yaml':
      return parseYamlLines(text);
    case 'xml':
      return parseXml(text);
    case 'php':
      return parsePhp(text);
    case 'key-value':
      return parseKeyValueLines(text);
  }
}

/** Deeper JSON is no configuration file; it is read as lines (and no path is rebuilt at every value). */
const MAX_JSON_DEPTH = 64;

interface JsonFrame {
  array: boolean;
  /** In an object: the key of the value being read (or of the container entered under it). */
  key?: string;
  expectKey: boolean;
}

/**
 * JSON, and JSON with comments and trailing commas (Sublime's sftp-config.json, VS Code settings), in one
 * linear pass with an explicit stack (no recursion to exhaust). A Kubernetes object's `kind` leads its
 * key path. Undefined when the text is not JSON; the caller then reads it as key-value lines.
 */
function parseJson(text: string): KeyValue[] | undefined {
  const out: KeyValue[] = [];
  const frames: JsonFrame[] = [];
  let kind: string | undefined;
  let hasApiVersion = false;
  let done = false;
  const emit = (value: string, start: number, end: number) => {
    const top = frames[frames.length - 1];
    if (!top) {
      done = true;
      return;
    }
    if (!top.array && top.key === undefined) return;
    const path = frames.flatMap((f) => (f.array || f.key === undefined ? [] : [f.key]));
    if (frames.length === 1 && top.key === 'kind') kind = value;
    if (frames.length === 1 && top.key === 'apiVersion') hasApiVersion = true;
    if (end > start && path.length) out.push({ path, value, start, end });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
    if (c === 0x2f && (text[i + 1] === '/' || text[i + 1] === '*')) {
      const close = text[i + 1] === '*' ? text.indexOf('*/', i + 2) : text.indexOf('\n', i);
      if (close === -1) break;
      i = text[i + 1] === '*' ? close + 1 : close;
      continue;
    }
    if (done) return undefined;
    const top = frames[frames.length - 1];
    if (c === 0x22) {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\') j++;
        else if (text[j] === '\n') return undefined;
      }
      if (j >= text.length) return undefined;
      const raw = text.slice(i + 1, j);
      if (top && !top.array && top.expectKey) {
        top.key = raw;
        top.expectKey = false;
      } else {
        emit(raw, i + 1, j);
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      if ((top && !top.array && top.expectKey) || frames.length >= MAX_JSON_DEPTH) return undefined;
      frames.push({ array: c === 0x5b, expectKey: c === 0x7b });
    } else if (c === 0x7d || c === 0x5d) {
      if (!top || top.array !== (c === 0x5d)) return undefined;
      frames.pop();
      if (frames.length === 0) done = true;
    } else if (c === 0x3a) {
      if (!top || top.array || top.expectKey || top.key === undefined) return undefined;
    } else if (c === 0x2c) {
      if (!top) return undefined;
      if (!top.array) {
        top.key = undefined;
        top.expectKey = true;
      }
    } else {
      const literal = /^(?:true|false|null|-?[0-9][0-9.eE+-]{0,40})/.exec(text.slice(i, i + 48));
      if (!literal || (top && !top.array && top.expectKey)) return undefined;
      emit(literal[0], i, i + literal[0].length);
      i += literal[0].length - 1;
    }
  }
  if (frames.length) return undefined;
  if (kind && hasApiVersion) for (const p of out) p.path.unshift(kind);
  return out;
}

/** Each line of `text` without its line end (LF or CRLF), with the offset where it starts. */
function* linesOf(text: string): Generator<{ line: string; at: number }> {
  for (let at = 0; at < text.length;) {
    const nl = text.indexOf('\n', at);
    const end = nl === -1 ? text.length : nl;
    yield { line: text.slice(at, end).replace(/\r$/, ''), at };
    at = end + 1;
  }
}

/**
 * YAML as configuration files write it, line by line in linear time: `key: value` under the keys of
 * lesser indentation (list items `- ` add none), documents split by `---`, and a Kubernetes object's
 * `kind` leading its key path (`secret/data/password`). Block scalars, flow collections and multi-line
 * strings are left to the line rules.
 */
function parseYamlLines(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  let stack: Array<{ indent: number; key: string }> = [];
  let docStart = 0;
  let kind: string | undefined;
  let hasApiVersion = false;
  const endDocument = () => {
    if (kind && hasApiVersion) for (let i = docStart; i < out.length; i++) out[i]!.path.unshift(kind);
    docStart = out.length;
    stack = [];
    kind = undefined;
    hasApiVersion = false;
  };
  for (const { line, at: lineAt } of linesOf(text)) {
    if (/^(?:---|\.\.\.)(?:\s|$)/.test(line)) {
      endDocument();
      continue;
    }
    const m = /^([ \t]*(?:-[ \t]+)*)("[^"\n]{1,200}"|'[^'\n]{1,200}'|[^\s#'"{}[\],&*!|>@`-][^:\n]{0,200}?|-[^\s:][^:\n]{0,200}?)[ \t]*:(?:[ \t]+|$)/.exec(line);
    if (!m) continue;
    const indent = m[1]!.length;
    const key = m[2]!.replace(/^["']|["']$/g, '');
    while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const rest = line.slice(m[0].length);
    if (rest === '' || /^(?:[|>][-+0-9]*|&\S+)?[ \t]*(?:#.*)?$/.test(rest)) {
      stack.push({ indent, key });
      continue;
    }
    const value = valueSpan(line, m[0].length, true);
    if (!value) continue;
    const scalar = line.slice(value[0], value[1]);
    if (indent === 0 && key === 'kind') kind = scalar;
    if (indent === 0 && key === 'apiVersion') hasApiVersion = true;
    out.push({ path: [...stack.map((s) => s.key), key], value: scalar, start: lineAt + value[0], end: lineAt + value[1] });
  }
  endDocument();
  return out;
}

/** `key = value`, `key: value`, `export KEY=value`, `set key = "value"`, `[section]`, and inventory lines of `k=v` pairs. */
function parseKeyValueLines(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  let section: string[] = [];
  for (const { line, at: lineAt } of linesOf(text)) {
    const header = /^\s*\[{1,2}([^\]\n]{1,200})\]{1,2}\s*$/.exec(line);
    if (header) {
      section = [header[1]!.trim()];
      continue;
    }
    // Not `//`: in .npmrc it starts a registry's key (`//registry.npmjs.org/:_authToken=…`).
    if (/^\s*(?:[#;!]|$)/.test(line)) continue;
    const push = (key: string, from: number, toEnd: boolean) => {
      const value = valueSpan(line, from, toEnd);
      if (value) out.push({ path: [...section, key], value: line.slice(value[0], value[1]), start: lineAt + value[0], end: lineAt + value[1] });
    };
    // The key ends at the first `=` (npmrc keys hold colons), else at `: ` (properties, YAML-like lines).
    const single = /^\s*(?:export\s+|set\s+)?([^\s=]{1,200})\s*=\s*/.exec(line) ?? /^\s*([^\s=:]{1,200})\s*:(?:\s+|$)/.exec(line);
    if (single) {
      push(single[1]!, single[0].length, true);
      continue;
    }
    // Ansible inventory: `web1 ansible_host=10.0.0.11 ansible_password=…`.
    for (const pair of line.matchAll(/(?:^|\s)([A-Za-z_][\w.-]{0,100})=(?=\S)/g)) push(pair[1]!, pair.index + pair[0].length, false);
  }
  return out;
}

/** The value starting at `from` in a line: inside its quotes, else up to a trailing comment (or the next blank when `toEnd` is false). */
function valueSpan(line: string, from: number, toEnd: boolean): [number, number] | undefined {
  const quote = line[from];
  if (quote === '"' || quote === "'") {
    const close = line.indexOf(quote, from + 1);
    return close > from + 1 ? [from + 1, close] : undefined;
  }
  let end = toEnd ? line.length : from + /^\S*/.exec(line.slice(from))![0].length;
  const comment = /\s[#;]/.exec(line.slice(from, end));
  if (comment) end = from + comment.index;
  while (end > from && /\s/.test(line[end - 1]!)) end--;
  return end > from ? [from, end] : undefined;
}

const XML_TOKEN = /<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<[?!][^>]*>/g;
const XML_ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * Elements with text (`<password>…</password>`, FileZilla's `<Pass encoding="base64">`), attributes
 * (`<fileTransfer password="…">`) and name/value elements (`<option name="password" value="…"/>`,
 * `<add key="DbPassword" value="…"/>`). Values stay as written (entities are not decoded).
 */
function parseXml(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  const stack: string[] = [];
  let open: { name: string; end: number } | undefined;
  for (let m = XML_TOKEN.exec(text); m !== null; m = XML_TOKEN.exec(text)) {
    const [, cdata, closing, name, attributes, selfClosing] = m;
    if (closing !== undefined) {
      if (open && open.name === closing) {
        const textStart = open.end;
        const inner = text.slice(textStart, m.index);
        const trimmed = inner.trim();
        if (trimmed && !inner.includes('<')) {
          const start = textStart + inner.indexOf(trimmed);
          out.push({ path: [...stack], value: trimmed, start, end: start + trimmed.length });
        }
      }
      const at = stack.lastIndexOf(closing);
      if (at !== -1) stack.length = at;
      open = undefined;
    } else if (name !== undefined) {
      const attributesAt = m.index + 1 + name.length;
      const pairs: Array<{ key: string; value: string; start: number }> = [];
      for (const a of (attributes ?? '').matchAll(XML_ATTRIBUTE)) {
        const value = a[2] ?? a[3] ?? '';
        pairs.push({ key: a[1]!, value, start: attributesAt + a.index + a[0].length - value.length - 1 });
      }
      const label = pairs.find((p) => /^(?:name|key)$/i.test(p.key));
      const valued = pairs.find((p) => /^value$/i.test(p.key));
      for (const p of pairs) {
        if (!p.value || p === label) continue;
        const key = p === valued && label ? label.value : p.key;
        out.push({ path: [...stack, name, key], value: p.value, start: p.start, end: p.start + p.value.length });
      }
      if (selfClosing) {
        open = undefined;
      } else {
        stack.push(name);
        open = { name, end: m.index + m[0].length };
      }
    } else if (cdata !== undefined && open) {
      const start = m.index + '<![CDATA['.length;
      if (cdata.trim()) out.push({ path: [...stack], value: cdata, start, end: start + cdata.length });
      open = undefined;
    }
  }
  return out;
}

/**
 * `define('DB_PASSWORD', '…')`, array entries `'password' => '…'` (with a literal default in
 * `env('DB_PASSWORD', '…')`), and assignments `$db_password = '…';`.
 */
const PHP_PAIR =
  /define\(\s*(['"])([\w.-]{1,100})\1\s*,\s*(['"])((?:(?!\3)[^\\\n]|\\.){0,1024})\3|(['"])([\w.-]{1,100})\5\s*=>\s*(?:env\(\s*['"][\w.-]{1,100}['"]\s*,\s*)?(['"])((?:(?!\7)[^\\\n]|\\.){0,1024})\7|\$([A-Za-z_]\w{0,100})\s*=\s*(['"])((?:(?!\10)[^\\\n]|\\.){0,1024})\10\s*;/g;

function parsePhp(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  for (const m of text.matchAll(PHP_PAIR)) {
    const key = m[2] ?? m[6] ?? m[9]!;
    const value = m[4] ?? m[8] ?? m[11]!;
    if (!value) continue;
    const start = m.index + m[0].lastIndexOf(value, m[0].length - (m[9] !== undefined ? 2 : 1));
    out.push({ path: [key], value, start, end: start + value.length });
  }
  return out;
}
