// Throughput and memory of `warden detect` on one thread and on its pool (one worker per core), against
// secretlint (the npm peer) on the same generated AI-gateway corpora, in the same run: one large file, and
// a folder of many smaller files. Usage:
//   (cd bench && npm install) && npx tsx bench/detect.bench.ts [--size 200MB] [--files 40] [--rounds 3]
// Each figure is the median of --rounds runs (peak RSS the highest), the tools taking turns. Output is
// checked to be the same with 1 thread and with the pool.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseByteSize } from '../src/cli/parse.js';
import { writeCorpus } from './corpus.js';
import { machineLine, measure, median } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench', 'out');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '200MB' },
    files: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Math.max(1, Number(values.rounds));
const BYTES = parseByteSize(values.size!, '--size');
const FILES = Math.max(2, Number(values.files));
const THREADS = availableParallelism();
mkdirSync(OUT, { recursive: true });

/** One file of BYTES, and a folder of FILES files of BYTES in all (each its own seed), 8 % leak lines; generated once. */
async function corpora(): Promise<Array<{ name: string; path: string; bytes: number }>> {
  const file = join(OUT, `detect-8pct-${BYTES}.ndjson`);
  if (!existsSync(file)) await writeCorpus(file, BYTES, 1, 0.08);
  const folder = join(OUT, `detect-folder-${FILES}x${Math.round(BYTES / FILES)}`);
  if (!existsSync(`${folder}.done`)) {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    for (let i = 0; i < FILES; i++) await writeCorpus(join(folder, `part-${i}.log`), Math.round(BYTES / FILES), i + 2, 0.08);
    writeFileSync(`${folder}.done`, '');
  }
  const folderBytes = readdirSync(folder).reduce((sum, f) => sum + statSync(join(folder, f)).size, 0);
  return [
    { name: 'one file', path: file, bytes: statSync(file).size },
    { name: `${FILES} files`, path: folder, bytes: folderBytes },
  ];
}

const warden = join(ROOT, 'bin', 'warden.js');
const secretlint = join(ROOT, 'bench', 'node_modules', '.bin', 'secretlint');
const rc = join(OUT, 'secretlintrc.json');
writeFileSync(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));

console.log(`# detect benchmark\n${machineLine()}\nthreads by default: ${THREADS} (the main thread and ${THREADS - 1} worker(s))\n`);
console.log('| tool | input | MB | seconds | MB/s | CPU seconds | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|');
const ratios: string[] = [];
for (const { name, path, bytes } of await corpora()) {
  const runs: Array<[string, string, string[]]> = [
    ['warden --threads 1', join(OUT, 'detect-1.json'), [warden, 'detect', '--format', 'json', '--no-gitignore', '--threads', '1', path]],
    [`warden (${THREADS} threads)`, join(OUT, 'detect-n.json'), [warden, 'detect', '--format', 'json', '--no-gitignore', path]],
  ];
  if (existsSync(secretlint))
    runs.push([
      'secretlint 10.2.2',
      join(OUT, 'detect-peer.txt'),
      [secretlint, '--secretlintrc', rc, '--format', 'compact', join(path, statSync(path).isDirectory() ? '**/*' : '')],
    ]);
  else console.log('(secretlint not installed: run `cd bench && npm install`)');
  const samples = runs.map(() => ({ seconds: [] as number[], cpuSeconds: [] as number[], peakRssMB: 0, failed: undefined as number | null | undefined }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, out, args]] of runs.entries()) {
      const m = await measure(process.execPath, args, { stdoutFile: out });
      // Exit 1 is "found something"; anything else means the run did not read the input (secretlint cannot
      // hold a file over 512 MB in one string): it is reported as failed, not as a speed.
      if (m.exitCode !== 0 && m.exitCode !== 1) samples[i]!.failed = m.exitCode;
      samples[i]!.seconds.push(m.seconds);
      samples[i]!.cpuSeconds.push(m.cpuSeconds);
      samples[i]!.peakRssMB = Math.max(samples[i]!.peakRssMB, m.peakRssMB);
    }
  }
  const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const same = digest(runs[0]![1]) === digest(runs[1]![1]);
  const seconds = samples.map((s) => median(s.seconds));
  for (const [i, [tool]] of runs.entries()) {
    const { failed, cpuSeconds, peakRssMB } = samples[i]!;
    const speed = failed === undefined ? `${seconds[i]!.toFixed(2)} | ${(bytes / 1e6 / seconds[i]!).toFixed(1)}` : `failed (exit ${failed}) | -`;
    console.log(`| ${tool} | ${name} | ${(bytes / 1e6).toFixed(0)} | ${speed} | ${median(cpuSeconds).toFixed(2)} | ${peakRssMB.toFixed(0)} |`);
  }
  ratios.push(`${name}: 1 -> ${THREADS} threads ${(seconds[0]! / seconds[1]!).toFixed(2)}x throughput; report ${same ? 'identical' : 'DIFFERS'}`);
  if (seconds[2] && samples[2]!.failed === undefined)
    ratios.push(`${name}: warden (${THREADS} threads) / secretlint throughput ${(seconds[2] / seconds[1]!).toFixed(2)}x`);
}
console.log(`\n${ratios.join('\n')}`);
