import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { listenAt } from './listen-address.js';

describe('listenAt', () => {
  it('rejects with the bind error when the address is taken', async () => {
    const first = createServer();
    await listenAt(first, { host: '127.0.0.1', port: 0 });
    const { port } = first.address() as AddressInfo;
    const second = createServer();
    await assert.rejects(listenAt(second, { host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
    first.close();
  });

  // Node's server emits an accept failure (EMFILE when descriptors run out) as 'error' and keeps listening.
  it('turns a later server error into a process warning, and the server keeps serving', async () => {
    const server = createServer((socket) => socket.end('ok'));
    await listenAt(server, { host: '127.0.0.1', port: 0 });
    const warned = once(process, 'warning');
    server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
    const [warning] = (await warned) as [Error];
    assert.equal(warning.name, 'WardenServerWarning');
    assert.match(warning.message, /EMFILE/);
    assert.ok(server.listening);
    server.close();
  });
});
