// Secret files on the real file system: mode, replacement, a planted link, a path it cannot write, and what is refused on reading.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSecretFile, SecretFileError, writeSecretFile } from './secret-file.js';

describe('secret files', () => {
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
      (err: unknown) =>
        err instanceof SecretFileError && err.message.includes(join(file, 'key')) && /ENOTDIR|EEXIST/.test(err.message) && !err.message.includes('do-not-show'),
    );
    assert.equal(readdirSync(dir).length, before);
  });

  it('are not read through a link, when group or others may read them, or when not a regular file', async () => {
    const real = join(dir, 'real');
    writeFileSync(real, 's', { mode: 0o600 });
    const link = join(dir, 'link-to-real');
    symlinkSync(real, link);
    await assert.rejects(readSecretFile(link), (err) => err instanceof SecretFileError && /symbolic link/.test(err.message));
    const loose = join(dir, 'loose');
    writeFileSync(loose, 's');
    chmodSync(loose, 0o640);
    await assert.rejects(readSecretFile(loose), (err) => err instanceof SecretFileError && /mode 640.*chmod 600/.test(err.message));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await assert.rejects(readSecretFile(fifo), (err) => err instanceof SecretFileError && /not a regular file/.test(err.message));
    await assert.rejects(readSecretFile(join(dir, 'missing')), { code: 'ENOENT' });
  });
});
