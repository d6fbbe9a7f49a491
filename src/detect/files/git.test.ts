import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TestRepo } from '../../../test/helpers/git-repo.js';
import { expandSample, getDefaultDetector } from '../index.js';
import { fingerprintSecret } from '../fingerprint.js';
import { findSecretsInPaths, newFindings, readBaseline, writeBaseline } from './index.js';
import { findSecretsInGit, parseLogOptions, sinceCommitOptions, unquote, type GitFindOptions, type GitFinding } from './git.js';

const key = (n: number) => 'sk-proj-' + expandSample('{alnum:44}', n) + 'T3BlbkFJ' + expandSample('{alnum:44}', n + 100);
/** Enough unchanged lines that git still sees a rename when one line is added. */
const FILLER = Array.from({ length: 30 }, (_, i) => `line ${i} of text that stays the same across the rename`).join('\n') + '\n';
const fingerprintKey = Buffer.from('git-test-key');
const base = (repo: string): GitFindOptions => ({ repo, detector: getDefaultDetector(), fingerprintKey });
const where = (f: GitFinding) => `${f.commit?.slice(0, 7) ?? 'staged'} ${f.path}:${f.line}:${f.column}-${f.endLine}:${f.endColumn} ${f.ruleId}`;

describe('findSecretsInGit', () => {
  const repo = new TestRepo();
  const c: Record<string, string> = {};
  before(() => {
    c.add = repo
      .write('shared.txt', 'a\n')
      .write('app/config.env', `NAME=x\nOPENAI_API_KEY=${key(1)}\n`)
      .commit('add a key');
    c.remove = repo.write('app/config.env', 'NAME=x\n').commit('remove it');
    repo.git('checkout', '-q', '-b', 'feature');
    c.feature = repo
      .write('feature.txt', `token: ${key(2)}\n${FILLER}`)
      .write('shared.txt', 'a\nfeature\n')
      .commit('feature');
    repo.git('checkout', '-q', 'main');
    c.main = repo.write('shared.txt', 'main\na\n').commit('main side');
    repo.git('merge', '-q', '--no-ff', '--no-commit', 'feature');
    // An evil merge: lines that neither parent had.
    c.merge = repo
      .write('shared.txt', `main\na\nfeature\nkey=${key(3)}\n`)
      .write('evil.txt', `x\napi_key = "${key(4)}"\n`)
      .commit('merge');
    repo.git('mv', 'feature.txt', 'moved.txt');
    c.rename = repo.commit('rename, unchanged');
    repo.git('mv', 'moved.txt', 'renamed.txt');
    c.renameEdit = repo.write('renamed.txt', `token: ${key(2)}\nsecond: ${key(8)}\n${FILLER}`).commit('rename and add a line');
    c.binary = repo.write('logo.bin', Buffer.concat([Buffer.from([0x89, 0, 1]), Buffer.from(key(5))])).commit('binary');
    c.hidden = repo
      .write('.gitattributes', '*.dat -diff\n')
      .write('secret.dat', `s=${key(6)}\n`)
      .commit('text git is told not to diff');
    repo.git('update-index', '--add', '--cacheinfo', `160000,${c.hidden},vendor/lib`);
    repo.git('commit', '-q', '-m', 'submodule pointer');
    c.submodule = repo.git('rev-parse', 'HEAD');
    c.readd = repo.write('app/config.env', `NAME=x\nOPENAI_API_KEY=${key(1)}\n`).commit('the first blob again');
    c.allow = repo.write('fixture.env', `K=${key(7)} # warden:allow test fixture\nL=${key(9)}\n`).commit('allowed fixture');
  });
  after(() => rmSync(repo.dir, { recursive: true, force: true }));

  it('reads every commit oldest first: added lines only, merges, renames, binary and hidden text, submodules, each blob once', async () => {
    const result = await findSecretsInGit(base(repo.dir));
    const s = (name: string) => c[name]!.slice(0, 7);
    const len = key(1).length;
    assert.deepEqual(result.findings.map(where), [
      `${s('add')} app/config.env:2:16-2:${16 + len} openai-project-key`,
      `${s('feature')} feature.txt:1:8-1:${8 + len} openai-project-key`,
      `${s('merge')} evil.txt:2:12-2:${12 + len} openai-project-key`,
      `${s('merge')} shared.txt:4:5-4:${5 + len} openai-project-key`,
      `${s('renameEdit')} renamed.txt:2:9-2:${9 + len} openai-project-key`,
      `${s('hidden')} secret.dat:1:3-1:${3 + len} openai-project-key`,
      `${s('allow')} fixture.env:2:3-2:${3 + len} openai-project-key`,
    ]);
    const first = result.findings[0]!;
    assert.equal(first.commit, c.add);
    assert.equal(first.author, 'Ada Tester <ada@example.test>');
    assert.equal(first.date, repo.dateOf(c.add!));
    assert.equal(first.fingerprint, fingerprintSecret('openai-project-key', key(1), fingerprintKey));
    assert.deepEqual(
      result.allowed.map((f) => [where(f), f.allowedBecause]),
      [[`${s('allow')} fixture.env:1:3-1:${3 + len} openai-project-key`, 'test fixture']],
    );
    assert.deepEqual(result.notes, [
      { path: 'logo.bin', reason: 'binary', commit: c.binary },
      { path: 'vendor/lib', reason: 'submodule', detail: 'a submodule is another repository: run warden detect --git in it', commit: c.submodule },
    ]);
    assert.equal(result.commitsScanned, 12);
    assert.ok(!JSON.stringify(result).includes(key(1).slice(8, 30)), 'no secret in the result');
  });

  it('reads a range (a pull request since its base) and the staged index', async () => {
    const range = await findSecretsInGit({ ...base(repo.dir), logOptions: sinceCommitOptions(c.binary!) });
    // The re-added blob is new to this run: only what the range holds counts as seen.
    assert.deepEqual(
      range.findings.map((f) => `${f.commit} ${f.path}`),
      [`${c.hidden} secret.dat`, `${c.readd} app/config.env`, `${c.allow} fixture.env`],
    );
    assert.equal(range.commitsScanned, 4);
    // Walking first parents only, the merge brings the feature branch's key (its commit is not read).
    const firstParent = await findSecretsInGit({ ...base(repo.dir), logOptions: parseLogOptions(`--first-parent ${c.main}..${c.merge}`) });
    assert.deepEqual(
      firstParent.findings.map((f) => `${f.commit} ${f.path}:${f.line}`),
      [`${c.merge} evil.txt:2`, `${c.merge} feature.txt:1`, `${c.merge} shared.txt:4`],
    );
    const limited = await findSecretsInGit({ ...base(repo.dir), logOptions: parseLogOptions(`${c.add}..${c.remove} -- app`) });
    assert.equal(limited.commitsScanned, 1);
    assert.deepEqual(limited.findings, []);

    repo.write('staged.env', `one\nAPI_KEY=${key(10)}\n`).write('unstaged.env', `API_KEY=${key(11)}\n`);
    repo.git('add', 'staged.env');
    try {
      const staged = await findSecretsInGit({ ...base(repo.dir), staged: true });
      assert.deepEqual(staged.findings.map(where), [`staged staged.env:2:9-2:${9 + key(10).length} openai-project-key`]);
      assert.equal(staged.findings[0]!.date, undefined);
    } finally {
      repo.git('rm', '-q', '--cached', 'staged.env');
      rmSync(join(repo.dir, 'staged.env'));
      rmSync(join(repo.dir, 'unstaged.env'));
    }
  });

  it('one baseline serves files and history: a key in the work tree matches its history findings', async () => {
    const files = await findSecretsInPaths([join(repo.dir, 'app')], { ...base(repo.dir), cwd: repo.dir });
    const file = join(repo.dir, '..', `${repo.dir.split('/').pop()}-baseline.json`);
    try {
      writeBaseline(file, files.findings);
      const history = await findSecretsInGit(base(repo.dir));
      assert.deepEqual(
        newFindings(history.findings, readBaseline(file)).map((f) => f.path),
        ['feature.txt', 'evil.txt', 'shared.txt', 'renamed.txt', 'secret.dat', 'fixture.env'],
      );
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('honours excludes and rule-file path allowlists on history paths', async () => {
    const result = await findSecretsInGit({ ...base(repo.dir), excludes: ['app/', '*.dat'], ignoredPaths: [/^evil\.txt$/] });
    assert.deepEqual(
      result.findings.map((f) => f.path),
      ['feature.txt', 'shared.txt', 'renamed.txt', 'fixture.env'],
    );
  });

  it('refuses log options that change the output or write files, and bad revisions', async () => {
    for (const bad of ['--output=/tmp/x', '--ext-diff', '--textconv', '--format=%H', '-p', '--stat', '$(touch x)', '-c']) {
      assert.throws(() => parseLogOptions(`HEAD ${bad}`), /--log-opts/, bad);
    }
    assert.deepEqual(parseLogOptions('--all --since=2.weeks main..HEAD -- src'), ['--all', '--since=2.weeks', '--end-of-options', 'main..HEAD', '--', 'src']);
    assert.throws(() => sinceCommitOptions('--all'), /not a revision/);
    await assert.rejects(
      findSecretsInGit({ ...base(repo.dir), logOptions: sinceCommitOptions('no-such-branch') }),
      (err: Error & { exitCode: number }) => err.exitCode === 2,
    );
    await assert.rejects(findSecretsInGit(base(join(repo.dir, '..'))), /not a git repository/);
  });
});

describe('overlong lines', () => {
  it('reads a long added line in overlapping pieces and notes one too long to hold, with the lines after it numbered right', async () => {
    const repo = new TestRepo('warden-git-long-');
    try {
      const long = 'x'.repeat(5000) + ` ${key(14)} ` + 'y'.repeat(5000);
      const huge = 'z'.repeat(80 * 1024) + ` ${key(15)}`;
      const commit = repo.write('min.js', `${long}\n${huge}\nAPI_KEY=${key(16)}\n`).commit('minified');
      const result = await findSecretsInGit({ ...base(repo.dir), maxLineChars: 1024 });
      assert.deepEqual(
        result.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
        ['min.js:1:5002', 'min.js:3:9'],
      );
      assert.deepEqual(result.notes, [{ path: 'min.js', reason: 'limit', detail: 'line 2 is longer than 65536 characters: not read', commit }]);
    } finally {
      rmSync(repo.dir, { recursive: true, force: true });
    }
  });
});

describe('a long history', () => {
  it('is read in bounded memory: nothing but findings and blob ids outlives a chunk of diff', async () => {
    const repo = new TestRepo('warden-git-many-');
    try {
      const commits = 4000;
      let stream = '';
      for (let c = 1; c <= commits; c++) {
        const body = Array.from({ length: 100 }, (_, i) => `line ${i} of commit ${c}: some ordinary text`).join('\n') + '\n';
        stream += `commit refs/heads/main\ncommitter Ada <ada@example.test> ${1_700_000_000 + c} +0000\ndata 1\nc\nM 100644 inline dir${c % 7}/file${c % 50}.txt\ndata ${body.length}\n${body}\n`;
      }
      execFileSync('git', ['fast-import', '--quiet'], { cwd: repo.dir, input: stream });
      let before = 0;
      let grown = 0;
      // A full collection before each reading, whether or not node runs with --expose-gc.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const measure = () => {
        gc();
        return process.memoryUsage().heapUsed;
      };
      const result = await findSecretsInGit({
        ...base(repo.dir),
        onProgress: ({ commits: read }) => {
          if (read > 500 && before === 0) before = measure();
          if (read > 3500 && grown === 0) grown = measure() - before;
        },
      });
      assert.equal(result.commitsScanned, commits);
      assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${Math.round(grown / 1e6)} MB over 3000 commits`);
    } finally {
      rmSync(repo.dir, { recursive: true, force: true });
    }
  });
});

describe('a hostile repository config', () => {
  const repo = new TestRepo('warden-git-hostile-');
  const marker = join(repo.dir, '..', `${repo.dir.split('/').pop()}-ran`);
  after(() => {
    rmSync(repo.dir, { recursive: true, force: true });
    rmSync(marker, { force: true });
  });

  it('runs no textconv, external diff, fsmonitor, pager or signature program, and still finds the key', async () => {
    repo
      .write('.gitattributes', '* diff=evil\n')
      .write('app.env', `OPENAI_API_KEY=${key(12)}\n`)
      .commit('key');
    repo.write('staged.env', `API_KEY=${key(17)}\n`).git('add', 'staged.env');
    // Written after the helper's own git commands, which would run it too.
    const program = join(repo.dir, '..', `${repo.dir.split('/').pop()}-evil.sh`);
    writeFileSync(program, `#!/bin/sh\necho ran >> '${marker}'\nif [ -f "$1" ]; then cat "$1"; else cat; fi\n`, { mode: 0o755 });
    writeFileSync(
      join(repo.dir, '.git', 'config'),
      `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tpager = ${program}\n\tfsmonitor = ${program}\n` +
        `[diff]\n\texternal = ${program}\n[diff "evil"]\n\ttextconv = ${program}\n\tcommand = ${program}\n` +
        `[log]\n\tshowSignature = true\n[gpg]\n\tprogram = ${program}\n[color]\n\tui = always\n[diff]\n\tnoprefix = true\n`,
    );
    try {
      const staged = await findSecretsInGit({ ...base(repo.dir), staged: true });
      const history = await findSecretsInGit(base(repo.dir));
      assert.equal(existsSync(marker), false, 'a program from the repository config ran');
      assert.deepEqual(
        staged.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
        ['staged.env:1:9'],
      );
      assert.deepEqual(
        history.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
        ['app.env:1:16'],
      );
      // The trap is live: plain `git log -p` in this repository runs it.
      execFileSync('git', ['log', '-p', '-1'], { cwd: repo.dir, env: { PATH: process.env.PATH, HOME: repo.dir, GIT_CONFIG_NOSYSTEM: '1' }, stdio: 'ignore' });
      assert.equal(existsSync(marker), true, 'the hostile config did not run anything: the test proves nothing');
    } finally {
      rmSync(program, { force: true });
      writeFileSync(join(repo.dir, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n');
    }
  });

  it("ignores the caller's GIT_DIR and GIT_WORK_TREE: the repository read is the one named", async () => {
    const other = new TestRepo('warden-git-other-');
    const saved = { dir: process.env.GIT_DIR, tree: process.env.GIT_WORK_TREE };
    try {
      other.write('other.env', `OPENAI_API_KEY=${key(13)}\n`).commit('other key');
      process.env.GIT_DIR = join(other.dir, '.git');
      process.env.GIT_WORK_TREE = other.dir;
      const history = await findSecretsInGit(base(repo.dir));
      assert.deepEqual(
        history.findings.map((f) => f.path),
        ['app.env'],
      );
    } finally {
      for (const [name, value] of [
        ['GIT_DIR', saved.dir],
        ['GIT_WORK_TREE', saved.tree],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});

describe('unquote', () => {
  it('decodes git C-quoted paths, octal bytes as UTF-8', () => {
    assert.equal(unquote('"tab\\there \\"q\\" \\\\ \\303\\251"'), 'tab\there "q" \\ é');
    assert.equal(unquote('plain name.txt'), 'plain name.txt');
  });
});

describe('findSecretsInGit across the cut of a long run of added lines', () => {
  const repo = new TestRepo();
  after(() => rmSync(repo.dir, { recursive: true, force: true }));

  it('finds a match spanning lines where the run is cut, as a read of the file does', async () => {
    // Added lines are cut into runs of 256 KiB (counting each line and its one-character diff prefix): the
    // fillers bring a run just short of that, and a .netrc entry's machine line takes it over, so its
    // password is in the next run.
    const lines: string[] = [];
    let counted = 0;
    for (let i = 0; counted + 100 < 256 * 1024 - 10; i++, counted += 100) lines.push(`filler ${String(i).padStart(5, '0')} ${'x'.repeat(86)}`);
    lines.push(`machine h${'x'.repeat(256 * 1024 - counted - 10)}`, 'login deploy', `password ${expandSample('{alnum:24}', 1)}`);
    for (let i = 0; i < 50; i++) lines.push(`tail ${i}`);
    repo.write('dump.txt', `${lines.join('\n')}\n`).commit('a long file');
    const history = await findSecretsInGit(base(repo.dir));
    const files = await findSecretsInPaths([join(repo.dir, 'dump.txt')], { ...base(repo.dir), cwd: repo.dir });
    const at = (f: { line: number; column: number; ruleId: string }) => `${f.line}:${f.column} ${f.ruleId}`;
    assert.deepEqual(files.findings.map(at), [`${lines.length - 50}:10 netrc-password`]);
    assert.deepEqual(history.findings.map(at), files.findings.map(at));
  });
});
