// The gateway bench's other servers, in plain JavaScript so that they run as written, as the compiled
// gateway does (tsx would wrap their per-request functions). Usage, from bench/gateway.bench.ts:
//   node bench/gateway-peers.mjs upstream <port> <body>   a trivial OpenAI-style server answering <body>
//   node bench/gateway-peers.mjs verifier <port> <store>  nginx's auth_request target: 204 for a valid key
//     with the scope named in the path (/verify/<scope>), else 401 or 403, from the compiled KeyStore.verify
import { createServer } from 'node:http';

const [role, port, arg] = process.argv.slice(2);

if (role === 'upstream') {
  const length = String(Buffer.byteLength(arg));
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
    res.end(arg);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(port), '127.0.0.1');
} else if (role === 'verifier') {
  const { KeyStore } = await import(new URL('../dist/keys/index.js', import.meta.url).href);
  const keys = await KeyStore.open({ store: arg });
  const server = createServer(async (req, res) => {
    req.resume();
    const key = req.headers['x-api-key'];
    const scope = decodeURIComponent((req.url ?? '').slice('/verify/'.length));
    const v = await keys.verify(typeof key === 'string' ? key : '', { ip: '127.0.0.1', scopes: [scope] });
    res.writeHead(v.valid ? 204 : v.reason === 'scope' ? 403 : 401);
    res.end();
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(port), '127.0.0.1');
} else {
  console.error('usage: gateway-peers.mjs upstream|verifier <port> <body|store>');
  process.exitCode = 2;
}
