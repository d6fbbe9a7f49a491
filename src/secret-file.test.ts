import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSecretFile, SecretFileError, writeSecretFile } from './secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-secret-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('secret files', () => {
  it('are created with mode 0600 in a 0700 folder, and read back', async () => {
    const path = join(dir, 'new', 'token');
    await writeSecretFile(path, 'abc\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700);
    assert.equal(await readSecretFile(path), 'abc\n');
  });

  it('are never written over an existing file, nor through a link, even a dangling one', async () => {
    const existing = join(dir, 'existing');
    writeFileSync(existing, 'old', { mode: 0o600 });
    await assert.rejects(writeSecretFile(existing, 'new'), { code: 'EEXIST' });
    assert.equal(readFileSync(existing, 'utf8'), 'old');
    const target = join(dir, 'target-of-link');
    const link = join(dir, 'link');
    symlinkSync(target, link);
    await assert.rejects(writeSecretFile(link, 'secret'), { code: 'EEXIST' });
    assert.equal(existsSync(target), false, 'nothing was written where the link points');
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
