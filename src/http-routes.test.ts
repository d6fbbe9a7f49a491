import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RouteTable, type Route } from './http-routes.js';

type TestRoute = Route<string, string>;
const table = new RouteTable<TestRoute>([
  { method: 'GET', path: '/v1/items', auth: 'read', handle: 'list' },
  { method: 'POST', path: '/v1/items', auth: 'admin', handle: 'create' },
  { method: 'GET', path: '/v1/items/:id', auth: 'read', params: { id: /^item_\d+$/ }, handle: 'show' },
  { method: 'PUT', path: '/v1/items/:inventory/:id/note', auth: 'admin', handle: 'note' },
  { method: 'GET', path: '/a.b', auth: 'none', handle: 'dot' },
]);

it('matches method and path, first route first, with raw segments as params', () => {
  const hit = table.match('GET', '/v1/items');
  assert.ok(hit && hit !== 'method');
  assert.equal(hit.route.handle, 'list');
  const note = table.match('PUT', '/v1/items/lab%2F1/f%20x/note');
  assert.ok(note && note !== 'method');
  assert.deepEqual(note.params, { inventory: 'lab%2F1', id: 'f%20x' });
});

it('tells a known path with another method from an unknown path', () => {
  assert.equal(table.match('DELETE', '/v1/items'), 'method');
  assert.equal(table.match('GET', '/v1/nothing'), undefined);
  assert.equal(table.match('GET', '/v1/items/'), undefined, 'an empty segment is not a segment');
});

it('refuses a segment that does not fit its shape, and takes literal paths literally', () => {
  assert.equal(table.match('GET', '/v1/items/other'), undefined);
  const shown = table.match('GET', '/v1/items/item_7');
  assert.ok(shown && shown !== 'method');
  assert.equal(shown.params.id, 'item_7');
  assert.equal(table.match('GET', '/aXb'), undefined);
});

it('matches every path with *', () => {
  const any = new RouteTable<TestRoute>([{ method: 'POST', path: '*', auth: 'token', handle: 'batch' }]);
  assert.ok(any.match('POST', '/anything/at/all') !== undefined);
  assert.equal(any.match('GET', '/anything'), 'method');
});
