// Speed of `warden detect --git` in commits/s and MB/s of diff, on a generated repository with thousands
// of commits and on this project's own history, against `git log -p` alone writing the same diff to
// /dev/null in the same run (the floor: what reading history costs before any detection). Usage:
//   npm run build && npx tsx bench/detect-git.bench.ts [--commits 5000] [--rounds 3]
// The generated repository lives in bench/out (outside the package) and is made once with git fast-import.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expandSample } from '../src/detect/index.js';
import { machineLine, measure, median } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench', 'out');
const { values } = parseArgs({ options: { commits: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' } } });
const COMMITS = Math.max(1, Number(values.commits));
const ROUNDS = Math.max(1, Number(values.rounds));
mkdirSync(OUT, { recursive: true });

/** The same diff options `warden detect --git` uses, for the git-alone floor. */
const GIT_LOG = [
  'log',
  '-p',
  '-U0',
  '--no-color',
  '--no-ext-diff',
  '--no-textconv',
  '--full-index',
  '-M',
  '--cc',
  '--root',
  '--reverse',
  '--topo-order',
  '--format=%x01%H%x00%aI%x00%an <%ae>',
];

const FILES = 300;
/** Files stop growing here (the oldest lines go), so git's cost per commit stays level across the history. */
const MAX_FILE_LINES = 150;
const WORDS = ['request', 'model', 'tokens', 'latency', 'route', 'upstream', 'cache', 'retry', 'tenant', 'region', 'prompt', 'stream', 'budget', 'quota'];

/** A line of code or config, seeded: what commits to a service repository mostly add. */
function line(seed: number): string {
  const w = (k: number) => WORDS[(seed * 31 + k * 7) % WORDS.length]!;
  switch (seed % 5) {
    case 0:
      return `  const ${w(1)}${seed % 97} = await ${w(2)}.${w(3)}({ ${w(4)}: ${seed % 1000}, ${w(5)}: '${w(6)}-${seed % 37}' });`;
    case 1:
      return `${w(1).toUpperCase()}_${w(2).toUpperCase()}=${w(3)}-${seed % 4099}`;
    case 2:
      return `  // ${w(1)} ${w(2)} before ${w(3)}: the ${w(4)} may ${w(5)} when ${w(6)} is slow (${seed})`;
    case 3:
      return `  if (${w(1)}.${w(2)} > ${seed % 500}) return ${w(3)}(${w(4)}, ${w(5)});`;
    default:
      return `  ${w(1)}: { ${w(2)}: ${seed % 300}, ${w(3)}: "${w(4)}/${w(5)}/${seed % 61}" },`;
  }
}

/** A repository of COMMITS commits, each editing three of FILES files by 5–30 lines, with a key in one commit of 250. */
async function generateRepository(dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  const contents: string[][] = Array.from({ length: FILES }, () => []);
  const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exit ${code}`)))));
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let seed = 1;
  let chunk = '';
  for (let c = 1; c <= COMMITS; c++) {
    let commit = `commit refs/heads/main\nauthor Bench <bench@example.test> ${1_700_000_000 + c * 60} +0000\ncommitter Bench <bench@example.test> ${1_700_000_000 + c * 60} +0000\n${data(`change ${c}`)}`;
    for (let f = 0; f < 3; f++) {
      const file = (c * 7 + f * 101) % FILES;
      const lines = contents[file]!;
      const at = Math.min(lines.length, (seed * 13) % (lines.length + 1));
      const added = Array.from({ length: 5 + (seed % 26) }, () => line(seed++));
      if (c % 250 === 0 && f === 0) added.push(`OPENAI_API_KEY=sk-proj-${expandSample('{alnum:44}', c)}T3BlbkFJ${expandSample('{alnum:44}', c + 1)}`);
      lines.splice(at, Math.min(2, lines.length - at), ...added);
      if (lines.length > MAX_FILE_LINES) lines.splice(0, lines.length - MAX_FILE_LINES);
      commit += `M 100644 inline src/${file % 20}/file${file}.ts\n${data(lines.join('\n') + '\n')}`;
    }
    chunk += commit + '\n';
    if (chunk.length > 1 << 20) {
      if (!child.stdin.write(chunk)) await new Promise((resolve) => child.stdin.once('drain', resolve));
      chunk = '';
    }
  }
  child.stdin.end(chunk);
  await done; // history only: no work tree is checked out (its files would be type-checked as part of bench/)
}

async function repository(): Promise<string> {
  const dir = join(OUT, `git-${COMMITS}`);
  if (!existsSync(join(dir, '.git', 'refs', 'heads', 'main'))) await generateRepository(dir);
  return dir;
}

const warden = join(ROOT, 'bin', 'warden.js');

async function bench(label: string, repo: string, range: string): Promise<void> {
  const commits = Number(execFileSync('git', ['-C', repo, 'rev-list', '--count', range], { encoding: 'utf8' }).trim());
  const diffFile = join(OUT, 'git-log.out');
  await measure('git', ['-C', repo, ...GIT_LOG, range], { stdoutFile: diffFile });
  const diffMB = statSync(diffFile).size / 1e6;
  rmSync(diffFile);
  const times: Record<string, number[]> = { git: [], warden: [] };
  let rss = 0;
  let exit: number | null = 0;
  for (let i = 0; i < ROUNDS; i++) {
    times.git!.push((await measure('git', ['-C', repo, ...GIT_LOG, range])).seconds);
    const w = await measure(process.execPath, [warden, 'detect', '--git', repo, '--log-opts', range, '--format', 'json'], { stdoutFile: '/dev/null' });
    times.warden!.push(w.seconds);
    rss = Math.max(rss, w.peakRssMB);
    exit = w.exitCode;
  }
  const g = median(times.git!);
  const w = median(times.warden!);
  console.log(
    `| ${label} | git log -p alone | ${commits} | ${diffMB.toFixed(1)} | ${g.toFixed(2)} | ${Math.round(commits / g)} | ${(diffMB / g).toFixed(1)} | | |`,
  );
  console.log(
    `| ${label} | warden detect --git | ${commits} | ${diffMB.toFixed(1)} | ${w.toFixed(2)} | ${Math.round(commits / w)} | ${(diffMB / w).toFixed(1)} | ${Math.round(rss)} | ${(w / g).toFixed(2)}× git (exit ${exit}) |`,
  );
}

console.log(`# detect --git benchmark\n${machineLine()}\nmedian of ${ROUNDS} rounds, the two taking turns\n`);
console.log('| repository | reader | commits | diff MB | seconds | commits/s | MB/s | peak RSS MB | ratio |');
console.log('|---|---|---|---|---|---|---|---|---|');
await bench(`generated, ${COMMITS} commits`, await repository(), 'main');
await bench('warden (own history, HEAD)', ROOT, 'HEAD');
