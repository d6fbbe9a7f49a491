import { BlockList, isIP } from 'node:net';

/** An IPv4 client seen through a dual-stack socket (`::ffff:10.0.0.1`) is checked as IPv4. */
function plainAddress(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Null when every range parses, else the first one that does not. */
export function invalidRange(ranges: readonly string[]): string | null {
  for (const r of ranges) {
    const [addr = '', bits] = r.split('/');
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    if (!family || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) return r;
  }
  return null;
}

/** Compiled once per cached key, so a check is one BlockList lookup. */
export function compileRanges(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    const [addr = '', bits] = r.split('/');
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export function rangesAllow(list: BlockList, ip: string): boolean {
  const addr = plainAddress(ip);
  const family = isIP(addr);
  if (!family) return false;
  return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
