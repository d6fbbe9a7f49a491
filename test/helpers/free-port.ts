import { createServer, type AddressInfo } from 'node:net';

/** `count` distinct loopback ports nothing listens on right now (all bound at once, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A loopback port nothing listens on right now: for a server to start on, or a store that refuses connections. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
