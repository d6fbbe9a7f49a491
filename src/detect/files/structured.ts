import { isMap, isScalar, isSeq, parseAllDocuments, Scalar, type Node } from 'yaml';
import type { KeyValue } from '../types.js';

/**
 * Structured files parsed into key/value pairs placed in the text, so key rules find a value by the key
 * it sits under. Each parser is forgiving: what it cannot read it leaves to the line rules, which run on
 * every file anyway (a parse failure is never silence).
 */
export type StructuredFormat = 'json' | 'yaml' | 'xml' | 'php' | 'key-value';

/** Files larger than this are left to the line rules alone. */
export const STRUCTURED_MAX_CHARS = 4 * 1024 * 1024;
/**
 * JSON and YAML larger than this are read as key-value lines instead of a tree: the YAML parser reads
 * about a megabyte a second, and credential files are small (lock files and data dumps are not).
 */
const TREE_MAX_CHARS = 64 * 1024;

const BY_EXTENSION: Record<string, StructuredFormat> = {
  json: 'json', jsonc: 'json', json5: 'json',
  yml: 'yaml', yaml: 'yaml',
  xml: 'xml', config: 'xml', xaml: 'xml', plist: 'xml',
  php: 'php', inc: 'php',
  ini: 'key-value', cfg: 'key-value', cnf: 'key-value', conf: 'key-value', properties: 'key-value', env: 'key-value',
  toml: 'key-value', prefs: 'key-value', rc: 'key-value', keys: 'key-value',
};

/** Credential files without a telling extension, by name or path suffix. */
const BY_NAME: Array<[RegExp, StructuredFormat]> = [
  [/(?:^|\/)(?:\.dockercfg|\.ftpconfig|\.remote-sync\.json|\.jsbeautifyrc)$/, 'json'],
  [/(?:^|\/)(?:\.kube\/config|kubeconfig|\.config\/hub|\.tugboat|\.gem\/credentials|\.travis\.yml)$/, 'yaml'],
  [/(?:^|\/)(?:\.env(?:\.[\w.-]+)?|[\w.-]*\.env|\.npmrc|\.yarnrc|\.pypirc|\.s3cfg|\.boto|\.esmtprc|\.muttrc|\.my\.cnf|\.pgpass|credentials|config|hosts|inventory|servlist_?\.conf|[\w.-]*rc)$/i, 'key-value'],
];

/** The format a file's name says, else what its first characters say; undefined for anything else (code, prose). */
export function structuredFormat(path: string, text: string): StructuredFormat | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  const byExtension = dot > 0 ? BY_EXTENSION[name.slice(dot + 1).toLowerCase()] : undefined;
  if (byExtension) return byExtension;
  for (const [pattern, format] of BY_NAME) if (pattern.test(path)) return format;
  if (dot > 0) return undefined;
  const head = text.slice(0, 256).replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('{')) return 'json';
  if (head.startsWith('<?xml')) return 'xml';
  if (head.startsWith('---') || /^apiVersion:/.test(head)) return 'yaml';
  if (head.startsWith('<?php')) return 'php';
  return undefined;
}

/** The key/value pairs of `text` read as `format`; JSON or YAML that does not parse (or is large) is read as key-value lines. */
export function parseStructured(format: StructuredFormat, text: string): KeyValue[] {
  switch (format) {
    case 'json':
      return (text.length <= TREE_MAX_CHARS && parseYaml(blankJsonComments(text))) || parseKeyValueLines(text);
    case 'yaml':
      return (text.length <= TREE_MAX_CHARS && parseYaml(text)) || parseKeyValueLines(text);
    case 'xml':
      return parseXml(text);
    case 'php':
      return parsePhp(text);
    case 'key-value':
      return parseKeyValueLines(text);
  }
}

/**
 * JSON with comments (Sublime's sftp-config.json, VS Code settings): comments become spaces, so every
 * offset stays where it was. JSON is YAML 1.2 in flow style, and the YAML parser keeps source ranges.
 * One pass, no regex: an unclosed comment or string costs no backtracking.
 */
function blankJsonComments(text: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"' && text[i] !== '\n'; i++) if (text[i] === '\\') i++;
    } else if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      const block = text[i + 1] === '*';
      const close = block ? text.indexOf('*/', i + 2) : text.indexOf('\n', i);
      const end = close === -1 ? text.length : block ? close + 2 : close;
      out += text.slice(copied, i) + text.slice(i, end).replace(/[^\n]/g, ' ');
      copied = end;
      i = end - 1;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function parseYaml(text: string): KeyValue[] | undefined {
  const out: KeyValue[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: false, keepSourceTokens: false });
  if (!Array.isArray(docs)) return undefined;
  for (const doc of docs) {
    if (doc.errors.length) return undefined;
    // Kubernetes objects are typed by `kind`: it leads the key path (`secret/data/password`).
    const kind = isMap(doc.contents) ? doc.contents.get('kind') : undefined;
    const root = typeof kind === 'string' && isMap(doc.contents) && doc.contents.has('apiVersion') ? [kind] : [];
    walkYaml(doc.contents, root, text, out, 0);
  }
  return out;
}

const MAX_DEPTH = 64;

function walkYaml(node: unknown, path: string[], text: string, out: KeyValue[], depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (isMap(node)) {
    for (const item of node.items) {
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key === undefined) continue;
      walkYaml(item.value, [...path, key], text, out, depth + 1);
    }
  } else if (isSeq(node)) {
    // A list item adds no key: `users: [{user: {token: …}}]` is `users/user/token`.
    for (const item of node.items) walkYaml(item, path, text, out, depth + 1);
  } else if (isScalar(node) && path.length && (node as Node).range) {
    const [from, to] = (node as Node).range!;
    const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
    const start = quoted ? from + 1 : from;
    const end = quoted ? to - 1 : to;
    if (end > start) out.push({ path, value: text.slice(start, end), start, end });
  }
}

/** `key = value`, `key: value`, `export KEY=value`, `set key = "value"`, `[section]`, and inventory lines of `k=v` pairs. */
function parseKeyValueLines(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  let section: string[] = [];
  for (let at = 0; at < text.length; ) {
    const nl = text.indexOf('\n', at);
    const lineEnd = nl === -1 ? text.length : nl;
    const line = text.slice(at, lineEnd).replace(/\r$/, '');
    const lineAt = at;
    at = lineEnd + 1;
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
  let end = toEnd ? line.length : from + (/^\S*/.exec(line.slice(from))![0].length);
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
