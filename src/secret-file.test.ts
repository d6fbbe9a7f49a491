// writeSecretFile on the real file system: mode, replacement, a planted link, and a path it cannot write.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SecretFileError, writeSecretFile } from './secret-file.js';

describe('writeSecretFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-secret-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a file only its owner can read, under any umask, in a folder it creates 0700', () => {
    const path = join(dir, 'new', 'admin-key');
    const old = process.umask(0);
    try {
      writeSecretFile(path, 'secret one\n');
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(path, 'utf8'), 'secret one\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700);
  });

  it('replaces an older file, and a link planted at the path instead of writing through it', () => {
    const path = join(dir, 'replaced');
    writeFileSync(path, 'old', { mode: 0o644 });
    writeSecretFile(path, 'new');
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    const link = join(dir, 'linked');
    symlinkSync(victim, link);
    writeSecretFile(link, 'secret');
    assert.equal(readFileSync(victim, 'utf8'), 'untouched');
    assert.ok(!lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(link, 'utf8'), 'secret');
  });

  it('fails with the path and the cause, never the secret, and leaves nothing behind', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const before = readdirSync(dir).length;
    assert.throws(
      () => writeSecretFile(join(file, 'key'), 'do-not-show'),
      (err: unknown) => err instanceof SecretFileError && err.message.includes(join(file, 'key')) && /ENOTDIR|EEXIST/.test(err.message) && !err.message.includes('do-not-show'),
    );
    assert.equal(readdirSync(dir).length, before);
  });
});
