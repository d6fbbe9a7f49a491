import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DsnError, parseDsn } from './index.js';

describe('parseDsn', () => {
  it('takes the password from the environment, never from the string', () => {
    const dsn = parseDsn('postgres://app@db.internal:6543/logs', { PGPASSWORD: 'from-env' });
    assert.deepEqual([dsn.engine, dsn.host, dsn.port, dsn.user, dsn.database, dsn.password], ['postgres', 'db.internal', 6543, 'app', 'logs', 'from-env']);
    assert.equal(parseDsn('mysql://root@127.0.0.1/app', { WARDEN_DB_PASSWORD: 'w', MYSQL_PWD: 'm' }).password, 'w');
    assert.equal(parseDsn('clickhouse://127.0.0.1/logs', {}).password, undefined);
    assert.throws(
      () => parseDsn('postgres://app:hunter2@db/logs', {}),
      (err: unknown) => err instanceof DsnError && /WARDEN_DB_PASSWORD or PGPASSWORD/.test(err.message) && !err.message.includes('hunter2'),
    );
    // A password with `@`, `/`, `?` or `#` in it: the URL parser splits it elsewhere, and none of it may show.
    for (const text of [
      'postgres://app:hunter2@x9@db/logs',
      'postgres://app:hun/ter2@db/logs',
      'postgres://app:hun?ter2@db/logs',
      'mysql://app:hun#ter2@db:99999/logs',
    ]) {
      assert.throws(
        () => parseDsn(text, {}),
        (err: unknown) => err instanceof DsnError && !/hun|ter2|x9/.test(err.message) && err.message.includes('app:***@'),
        text,
      );
    }
  });

  it('knows each engine default and refuses what it cannot speak', () => {
    assert.equal(parseDsn('clickhouse://127.0.0.1', {}).port, 8123);
    assert.equal(parseDsn('mariadb://127.0.0.1', {}).engine, 'mysql');
    assert.equal(parseDsn('sqlite:///tmp/x.db', {}).path, '/tmp/x.db');
    assert.equal(parseDsn('logs.sqlite', {}).engine, 'sqlite');
    assert.throws(() => parseDsn('clickhouse+native://127.0.0.1:9000', {}), /not supported yet: use the HTTP interface/);
    assert.throws(() => parseDsn('redis://127.0.0.1', {}), /unknown scheme/);
  });
});
