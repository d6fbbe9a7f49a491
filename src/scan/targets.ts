/**
 * Targets: hostnames, IPv4/IPv6 addresses, CIDR ranges and host:port, expanded lazily so a /16 is
 * produced one address at a time and never held as a list.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface Target {
  host: string;
  /** Set for an exact host:port target: that port only. */
  port?: number;
}

interface Range {
  v6: boolean;
  first: bigint;
  last: bigint;
}

type ParsedTarget = { kind: 'host'; host: string; port?: number } | { kind: 'range'; range: Range; spec: string };

/** IPv6 ranges wider than this many host bits are refused: they cannot be walked. */
const MAX_IPV6_HOST_BITS = 16;

function ipToBigInt(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  // Expand `::` then read eight 16-bit groups; an embedded IPv4 tail becomes two groups.
  let text = ip;
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4Tail) {
    const n = ipToBigInt(v4Tail[1]!);
    text = text.slice(0, -v4Tail[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headParts : [...headParts, ...Array(8 - headParts.length - tailParts.length).fill('0'), ...tailParts];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIp(n: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as addresses are usually written.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function parsePort(text: string, spec: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw new UsageError(`target ${JSON.stringify(spec)}: bad port ${JSON.stringify(text)}`);
  return port;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
/**
 * A last label of digits or hex (`999.1.1.1`, `127.1`, `2130706433`, `0x7f.1`) names no host (RFC 3696 §2):
 * it is a malformed address, and the system resolver would read some of them as one (`127.1` is 127.0.0.1),
 * past `--exclude`.
 */
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/i;

function isHostname(text: string): boolean {
  return HOSTNAME.test(text) && !NUMERIC_LAST_LABEL.test(text);
}

function parseTarget(spec: string): ParsedTarget {
  const text = spec.trim();
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const prefix = Number(cidr[2]);
    const bits = family === 6 ? 128 : 32;
    if (!family || prefix > bits) throw new UsageError(`target ${JSON.stringify(spec)}: not a valid CIDR range`);
    if (family === 6 && bits - prefix > MAX_IPV6_HOST_BITS)
      throw new UsageError(`target ${JSON.stringify(spec)}: IPv6 ranges must be /${128 - MAX_IPV6_HOST_BITS} or narrower`);
    const hostBits = BigInt(bits - prefix);
    const first = (ipToBigInt(cidr[1]!) >> hostBits) << hostBits;
    return { kind: 'range', spec: text, range: { v6: family === 6, first, last: first + (1n << hostBits) - 1n } };
  }
  if (isIP(text)) return { kind: 'host', host: text };
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(text);
  if (bracketed && isIP(bracketed[1]!) === 6) return { kind: 'host', host: bracketed[1]!, ...(bracketed[2] ? { port: parsePort(bracketed[2], spec) } : {}) };
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort && (isIP(hostPort[1]!) === 4 || isHostname(hostPort[1]!))) return { kind: 'host', host: hostPort[1]!, port: parsePort(hostPort[2]!, spec) };
  if (isHostname(text)) return { kind: 'host', host: text };
  if (HOSTNAME.test(hostPort?.[1] ?? text))
    throw new UsageError(`target ${JSON.stringify(spec)}: not a valid IPv4 address, and a hostname's last label is never a number`);
  throw new UsageError(`target ${JSON.stringify(spec)}: expected a hostname, IP address, CIDR range or host:port`);
}

/** Reads target lines: one per line, `#` starts a comment, blank lines ignored. */
export function parseTargetLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** One target as given, and what it expands to after exclusion. */
export interface TargetSpec {
  /** The spec as given. */
  spec: string;
  /** Set for an exact host:port: that port only. */
  port?: number;
  /** A name that must resolve before it can be scanned (not an address or a range). */
  hostname: boolean;
  /** Addresses or hosts left after exclusion, counted without expanding. */
  size: bigint;
  /** Yields its targets one at a time, skipping excluded ones. */
  targets(): Iterable<Target>;
}

export interface TargetSet {
  /** Number of addresses or hosts left after exclusion, computed without expanding. */
  size: bigint;
  specs: TargetSpec[];
  /** True when `address` (an IP) falls in an excluded address or range. */
  excludesAddress(address: string): boolean;
  /** Yields targets one at a time, skipping excluded ones. */
  [Symbol.iterator](): Iterator<Target>;
}

/** Sorted, non-overlapping ranges covering the same addresses. */
function mergeRanges(ranges: Range[]): Range[] {
  const merged: Range[] = [];
  for (const r of [...ranges].sort((a, b) => Number(a.v6) - Number(b.v6) || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))) {
    const last = merged[merged.length - 1];
    if (last && last.v6 === r.v6 && r.first <= last.last + 1n) last.last = r.last > last.last ? r.last : last.last;
    else merged.push({ ...r });
  }
  return merged;
}

/** Validates every spec up front (so bad usage fails before any traffic), then expands lazily. */
export function createTargetSet(specs: string[], excludeSpecs: string[] = []): TargetSet {
  const targets = specs.map(parseTarget);
  const excludes = excludeSpecs.map(parseTarget);
  const excludedHosts = new Set<string>();
  const ranges: Range[] = [];
  for (const e of excludes) {
    if (e.kind === 'range') ranges.push(e.range);
    else if (isIP(e.host)) ranges.push({ v6: isIP(e.host) === 6, first: ipToBigInt(e.host), last: ipToBigInt(e.host) });
    else excludedHosts.add(e.host.toLowerCase());
  }
  const excludedRanges = mergeRanges(ranges);
  const inExcludedRange = (v6: boolean, n: bigint) => excludedRanges.some((r) => r.v6 === v6 && n >= r.first && n <= r.last);
  const excludesAddress = (address: string) => isIP(address) !== 0 && inExcludedRange(isIP(address) === 6, ipToBigInt(address));
  const excludedHost = (host: string) => (isIP(host) ? excludesAddress(host) : excludedHosts.has(host.toLowerCase()));
  /** Addresses of `range` that no exclusion covers. */
  const leftIn = (range: Range) =>
    excludedRanges.reduce(
      (left, r) => {
        if (r.v6 !== range.v6) return left;
        const lo = r.first > range.first ? r.first : range.first;
        const hi = r.last < range.last ? r.last : range.last;
        return hi >= lo ? left - (hi - lo + 1n) : left;
      },
      range.last - range.first + 1n,
    );
  const expanded: TargetSpec[] = targets.map((t, i) => {
    if (t.kind === 'host') {
      const target: Target = t.port === undefined ? { host: t.host } : { host: t.host, port: t.port };
      const excluded = excludedHost(t.host);
      return {
        spec: specs[i]!.trim(),
        ...(t.port === undefined ? {} : { port: t.port }),
        hostname: !isIP(t.host),
        size: excluded ? 0n : 1n,
        targets: () => (excluded ? [] : [target]),
      };
    }
    const { range } = t;
    return {
      spec: t.spec,
      hostname: false,
      size: leftIn(range),
      *targets() {
        for (let n = range.first; n <= range.last; n++) if (!inExcludedRange(range.v6, n)) yield { host: bigIntToIp(n, range.v6) };
      },
    };
  });
  return {
    size: expanded.reduce((acc, t) => acc + t.size, 0n),
    specs: expanded,
    excludesAddress,
    *[Symbol.iterator]() {
      for (const t of expanded) yield* t.targets();
    },
  };
}

/** Parses `--ports`: `80,443,8000-8100`. */
export function parsePorts(text: string): number[] {
  const ports = new Set<number>();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || lo > hi) throw new UsageError(`--ports: bad port or range ${JSON.stringify(part)}`);
    for (let p = lo; p <= hi; p++) ports.add(p);
  }
  if (!ports.size) throw new UsageError('--ports: no ports given');
  return [...ports].sort((a, b) => a - b);
}
