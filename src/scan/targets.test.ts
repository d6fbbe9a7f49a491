import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTargetSet, parsePorts, parseTargetLines } from './targets.js';
import { UsageError } from '../errors.js';

describe('targets', () => {
  it('parses hosts, addresses, host:port and bracketed IPv6', () => {
    const got = [...createTargetSet(['db.internal', '10.0.0.1', '127.0.0.1:7000', '[::1]:6379', '::1', 'localhost:8123'])];
    assert.deepEqual(got, [
      { host: 'db.internal' },
      { host: '10.0.0.1' },
      { host: '127.0.0.1', port: 7000 },
      { host: '::1', port: 6379 },
      { host: '::1' },
      { host: 'localhost', port: 8123 },
    ]);
  });
  it('expands CIDR ranges, IPv4 and IPv6, with exclusions', () => {
    const v4 = [...createTargetSet(['192.0.2.0/30'], ['192.0.2.1'])].map((t) => t.host);
    assert.deepEqual(v4, ['192.0.2.0', '192.0.2.2', '192.0.2.3']);
    const v6 = [...createTargetSet(['2001:db8::/126'])].map((t) => t.host);
    assert.deepEqual(v6, ['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
    const excludedRange = [...createTargetSet(['198.51.100.0/24'], ['198.51.100.0/25', 'skip.me'])];
    assert.equal(excludedRange.length, 128);
    assert.equal(excludedRange[0]!.host, '198.51.100.128');
  });
  it('streams a /16 without building it: size is known and iteration is lazy', () => {
    const set = createTargetSet(['10.1.0.0/16']);
    assert.equal(set.size, 65536n);
    const it = set[Symbol.iterator]();
    assert.equal(it.next().value?.host, '10.1.0.0');
    assert.equal(it.next().value?.host, '10.1.0.1');
    const before = process.memoryUsage().heapUsed;
    let last = '';
    for (const t of createTargetSet(['10.2.0.0/16'])) last = t.host;
    assert.equal(last, '10.2.255.255');
    assert.ok(process.memoryUsage().heapUsed - before < 32 * 1024 * 1024);
  });
  it('rejects nonsense and unwalkable IPv6 ranges as bad usage', () => {
    for (const bad of ['300.1.1.1/33', 'host:99999', 'not a host', '2001:db8::/64', 'a:b:c']) {
      assert.throws(() => createTargetSet([bad]), UsageError, bad);
    }
  });
  it('refuses malformed addresses that a resolver would read as some other address', () => {
    // 127.1 and 2130706433 are 127.0.0.1 to getaddrinfo; 999.1.1.1 is no address at all.
    for (const bad of ['999.1.1.1', '127.1', '2130706433', '0x7f.1', '999.1.1.1:6379', '10.0.0.256']) {
      assert.throws(() => createTargetSet([bad]), /not a valid IPv4 address/, bad);
    }
    assert.equal(createTargetSet(['db1.internal', 'host-7.example']).size, 2n);
  });
  it('counts what is left after exclusion, per target, without expanding', () => {
    const set = createTargetSet(['10.0.0.0/24', '10.0.0.5:80', 'db.internal', '10.8.0.0/16'], ['10.0.0.0/25', '10.0.0.100/30', '10.0.0.5', 'DB.internal']);
    assert.deepEqual(
      set.specs.map((s) => s.size),
      [128n, 0n, 0n, 65536n],
    );
    assert.equal(set.size, 128n + 65536n);
    assert.ok(set.excludesAddress('10.0.0.127') && !set.excludesAddress('10.0.0.128'));
    assert.deepEqual(
      set.specs.map((s) => s.hostname),
      [false, false, true, false],
    );
  });
  it('reads target files with comments and blank lines', () => {
    assert.deepEqual(parseTargetLines('# fleet\n127.0.0.1  # loopback\n\n10.0.0.0/30\r\n'), ['127.0.0.1', '10.0.0.0/30']);
  });
  it('parses port lists and ranges', () => {
    assert.deepEqual(parsePorts('8123, 9000-9002,8123'), [8123, 9000, 9001, 9002]);
    assert.throws(() => parsePorts('0'), UsageError);
    assert.throws(() => parsePorts('10-5'), UsageError);
    assert.throws(() => parsePorts('x'), UsageError);
  });
});
