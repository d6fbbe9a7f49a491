import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { makeZip } from '../../../test/helpers/zip.js';
import { expandSample, getDefaultDetector } from '../index.js';
import { findSecretsInPaths, type FindOptions } from './index.js';
import { writeUnder } from '../../../test/helpers/files.js';

const key = (n: number) => 'sk-proj-' + expandSample('{alnum:44}', 200 + n) + 'T3BlbkFJ' + expandSample('{alnum:44}', 300 + n);
const base = (): FindOptions => ({ detector: getDefaultDetector(), fingerprintKey: Buffer.from('archive-test') });
const LAYER_ID = 'a1b2c3d4e5f6';
const BLOB = '9f'.repeat(32);
const CONFIG = `{"config":{"Env":["PATH=/bin","OPENAI_API_KEY=${key(3)}"]}}\n`;

let root: string;
const w = (rel: string, data: string | Buffer) => writeUnder(root, rel, data);
/** GNU tar, as images and release tarballs are made, not the library Warden reads them with. */
const tarOf = (out: string, dir: string, names: string[], gzip = false) => {
  mkdirSync(dirname(join(root, out)), { recursive: true });
  execFileSync('tar', [gzip ? '-czf' : '-cf', join(root, out), '-C', join(root, dir), ...names]);
};

before(() => {
  root = mkdtempSync(join(tmpdir(), 'warden-archive-'));
  // A docker-save image: a legacy layer.tar, an OCI gzipped blob layer, the config with its Env.
  w('image/layer1/app/.env', `NAME=x\nOPENAI_API_KEY=${key(1)}\n`);
  w('image/layer1/bin/tool', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0]), Buffer.alloc(300_000, 7), Buffer.from(key(9))]));
  w('image/layer2/etc/secret.conf', `token: ${key(2)}\n`);
  // The binary member first: the text after it is still read (an entry left half-read is drained).
  tarOf(`image/build/${LAYER_ID}/layer.tar`, 'image/layer1', ['bin', 'app']);
  tarOf(`image/build/blobs/sha256/${BLOB}`, 'image/layer2', ['etc'], true);
  w('image/build/config.json', CONFIG);
  w('image/build/manifest.json', `[{"Config":"config.json","Layers":["${LAYER_ID}/layer.tar","blobs/sha256/${BLOB}"]}]\n`);
  tarOf('scan/image.tar', 'image/build', ['manifest.json', 'config.json', LAYER_ID, 'blobs']);
  // A zip holding a zip; a tgz holding a zip.
  w(
    'scan/bundle.zip',
    makeZip([
      { name: 'docs/readme.md', data: `# x\n\nkey: ${key(4)}\n` },
      { name: 'inner.zip', data: makeZip([{ name: 'deep.txt', data: `api_key=${key(5)}\n` }]) },
    ]),
  );
  w('release/notes.txt', `fine\n`);
  w('release/pkg.zip', makeZip([{ name: 'settings.ini', data: `password_token=${key(6)} # warden:allow fixture\n` }]));
  tarOf('scan/release.tgz', 'release', ['notes.txt', 'pkg.zip'], true);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('archives', () => {
  it('reads a docker-save image, zips in zips and a tgz member by member, with archive!member paths', async () => {
    const result = await findSecretsInPaths([join(root, 'scan')], { ...base(), cwd: root });
    const len = key(1).length;
    const configColumn = CONFIG.indexOf('sk-proj-') + 1;
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}:${f.column}-${f.endLine}:${f.endColumn}`),
      [
        `scan/bundle.zip!docs/readme.md:3:6-3:${6 + len}`,
        `scan/bundle.zip!inner.zip!deep.txt:1:9-1:${9 + len}`,
        `scan/image.tar!${LAYER_ID}/layer.tar!app/.env:2:16-2:${16 + len}`,
        `scan/image.tar!blobs/sha256/${BLOB}!etc/secret.conf:1:8-1:${8 + len}`,
        `scan/image.tar!config.json:1:${configColumn}-1:${configColumn + len}`,
      ],
    );
    assert.deepEqual(
      result.allowed.map((f) => [f.path, f.allowedBecause]),
      [['scan/release.tgz!pkg.zip!settings.ini', 'fixture']],
    );
    assert.deepEqual(result.notes, [{ path: `scan/image.tar!${LAYER_ID}/layer.tar!bin/tool`, reason: 'binary' }]);
    assert.equal(result.filesScanned, 8);
  });

  it('stops zip bombs at the member size, depth, member count and total bounds, and says what it skipped', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'a');
    let nested = makeZip([{ name: 'core.txt', data: `api_key=${key(7)}\n` }]);
    for (let i = 0; i < 5; i++) nested = makeZip([{ name: `level${i}.zip`, data: nested }]);
    w(
      'bombs/huge.zip',
      makeZip([
        { name: 'zeros.txt', data: big },
        { name: 'ok.txt', data: `token: ${key(8)}\n` },
      ]),
    );
    w('bombs/liar.zip', makeZip([{ name: 'small.txt', data: big, declaredSize: 100 }]));
    w('bombs/deep.zip', nested);
    w('bombs/many.zip', makeZip(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: 'x\n' }))));
    w('bombs/gz.tar', Buffer.alloc(0));
    w('gzsrc/log.gz', gzipSync(big));
    tarOf('bombs/gz.tar', 'gzsrc', ['log.gz']);
    const limits = { maxMemberBytes: 1024 * 1024, maxMembers: 20, maxDepth: 3 };
    const result = await findSecretsInPaths([join(root, 'bombs')], { ...base(), cwd: root, archiveLimits: limits });
    assert.deepEqual(
      result.findings.map((f) => f.path),
      ['bombs/huge.zip!ok.txt'],
    );
    assert.deepEqual(result.notes.map((n) => `${n.path} ${n.reason} ${n.detail?.replace(/\. got at least \d+$/, '')}`).sort(), [
      'bombs/deep.zip!level4.zip!level3.zip!level2.zip limit an archive nested more than 3 deep',
      'bombs/gz.tar!log.gz limit larger than 1048576 bytes uncompressed',
      'bombs/huge.zip!zeros.txt limit larger than 1048576 bytes',
      'bombs/liar.zip!small.txt unreadable too many bytes in the stream. expected 100',
      'bombs/many.zip limit more than 20 files: the rest was not read',
    ]);
    const total = await findSecretsInPaths([join(root, 'bombs/huge.zip')], { ...base(), cwd: root, archiveLimits: { maxTotalBytes: 64 * 1024 } });
    assert.deepEqual(total.findings, []);
    assert.deepEqual(total.notes, [
      { path: 'bombs/huge.zip!zeros.txt', reason: 'limit', detail: 'over 65536 bytes read from the archive: the rest was not read' },
    ]);
  });
});
