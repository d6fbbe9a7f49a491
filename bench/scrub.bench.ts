// Throughput and memory of `warden scrub` against a readline pass-through and secretlint (the npm peer) on
// the same generated AI-gateway corpora, in the same run. Usage:
//   (cd bench && npm install) && npx tsx bench/scrub.bench.ts [--sizes 100MB,2GB] [--peer-size 100MB]
//     [--leak-rates 1,8] [--threads N] [--rounds 3]
// Each figure is the median of --rounds runs (peak RSS the highest), the tools taking turns. Warden runs
// with --threads 1 and with one thread per core (or --threads); the ratios below the table are for the
// thread count `warden scrub` picks by default for the file's size (defaultScrubThreads). Process start
// (each tool on an empty file) is measured too, and throughput is also given without it.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseByteSize } from '../src/cli/parse.js';
import { getDefaultDetector } from '../src/detect/index.js';
import { defaultScrubThreads } from '../src/scrub/index.js';
import { writeCorpus } from './corpus.js';
import { machineLine, measure, median } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench', 'out');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100MB,1GB' },
    'peer-size': { type: 'string', default: '100MB' },
    'leak-rates': { type: 'string', default: '1,8' },
    threads: { type: 'string', default: String(availableParallelism()) },
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Math.max(1, Number(values.rounds));
const THREADS = Math.max(2, Number(values.threads));
const sizes = values.sizes!.split(',').map((s) => parseByteSize(s, '--sizes'));
const peerSize = parseByteSize(values['peer-size']!, '--peer-size');
const leakRates = values['leak-rates']!.split(',').map(Number);
mkdirSync(OUT, { recursive: true });

/** The corpus of that size and leak rate (percent of lines), generated once and kept in bench/out with its line count beside it. */
async function corpus(bytes: number, leakPercent: number): Promise<{ path: string; lines: number }> {
  const path = join(OUT, `gateway-${leakPercent}pct-${bytes}.ndjson`);
  if (existsSync(path) && existsSync(`${path}.lines`)) return { path, lines: Number(readFileSync(`${path}.lines`, 'utf8')) };
  const lines = await writeCorpus(path, bytes, 1, leakPercent / 100);
  writeFileSync(`${path}.lines`, String(lines));
  return { path, lines };
}

const warden = join(ROOT, 'bin', 'warden.js');
const passThrough = join(ROOT, 'bench', 'readline-pass-through.mjs');
const secretlint = join(ROOT, 'bench', 'node_modules', '.bin', 'secretlint');
const rc = join(OUT, 'secretlintrc.json');
writeFileSync(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));

console.log(`# scrub benchmark\n${machineLine()}\nrules loaded: ${getDefaultDetector().rules.length}; default threads ${THREADS}\n`);

// What every run pays before its first byte, on an empty file: at 100 MB it is a large part of the time.
const empty = join(OUT, 'empty.ndjson');
writeFileSync(empty, '');
const start = { warden: [] as number[], readline: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  start.readline.push((await measure(process.execPath, [passThrough, empty])).seconds);
  start.warden.push((await measure(process.execPath, [warden, 'scrub', '--threads', '1', empty])).seconds);
}
const startSeconds = { warden: median(start.warden), readline: median(start.readline) };
console.log(`process start (an empty file): warden scrub ${startSeconds.warden.toFixed(2)} s, readline pass-through ${startSeconds.readline.toFixed(2)} s\n`);
console.log('| tool | mode | leak lines | input | seconds | MB/s | lines/s | CPU seconds | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|---|---|');
const seconds: Record<string, number> = {};
const ratios: string[] = [];
for (const leakPercent of leakRates) {
  for (const bytes of [...new Set([...sizes, peerSize])].sort((a, b) => a - b)) {
    const { path, lines } = await corpus(bytes, leakPercent);
    const size = statSync(path).size;
    const runs: Array<[string, string, string[]]> = [['readline', 'pass-through', [passThrough, path]]];
    for (const format of ['text', 'ndjson']) {
      for (const threads of [1, THREADS])
        runs.push([`warden --threads ${threads}`, format, [warden, 'scrub', '--format', format, '--threads', String(threads), path]]);
    }
    if (bytes === peerSize) {
      if (existsSync(secretlint)) runs.push(['secretlint 10.2.2', 'lint', [secretlint, '--secretlintrc', rc, '--format', 'compact', path]]);
      else console.log('(secretlint not installed: run `cd bench && npm install`)');
    }
    const samples = runs.map(() => ({ seconds: [] as number[], cpuSeconds: [] as number[], peakRssMB: 0 }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, [, , args]] of runs.entries()) {
        const m = await measure(process.execPath, args);
        samples[i]!.seconds.push(m.seconds);
        samples[i]!.cpuSeconds.push(m.cpuSeconds);
        samples[i]!.peakRssMB = Math.max(samples[i]!.peakRssMB, m.peakRssMB);
      }
    }
    const key = (tool: string, mode: string) => `${tool}/${mode}`;
    for (const [i, [tool, mode]] of runs.entries()) {
      const s = median(samples[i]!.seconds);
      seconds[key(tool, mode)] = s;
      console.log(
        `| ${tool} | ${mode} | ${leakPercent} % | ${(size / 1e6).toFixed(0)} MB | ${s.toFixed(2)} | ${(size / 1e6 / s).toFixed(1)} | ${Math.round(lines / s)} | ${median(samples[i]!.cpuSeconds).toFixed(2)} | ${samples[i]!.peakRssMB.toFixed(0)} |`,
      );
    }
    const at = `${leakPercent} % leak lines, ${(size / 1e6).toFixed(0)} MB`;
    const readline = seconds[key('readline', 'pass-through')]!;
    // The targets hold at the thread count `warden scrub` picks for a file of this size.
    const byDefault = defaultScrubThreads(size) === 1 ? 1 : THREADS;
    for (const format of ['text', 'ndjson']) {
      const one = seconds[key('warden --threads 1', format)]!;
      const many = seconds[key(`warden --threads ${THREADS}`, format)]!;
      const chosen = byDefault === 1 ? one : many;
      ratios.push(
        `${at}, ${format}: at the default (${byDefault} thread(s)) ${(size / 1e6 / chosen).toFixed(1)} MB/s (${(size / 1e6 / (chosen - startSeconds.warden)).toFixed(1)} after process start), time ${(chosen / readline).toFixed(2)}x the readline pass-through's; 1 -> ${THREADS} threads ${(one / many).toFixed(2)}x throughput`,
      );
    }
    const peer = seconds[key('secretlint 10.2.2', 'lint')];
    if (bytes === peerSize && peer)
      ratios.push(
        `${at}: warden text (${THREADS} threads) / secretlint throughput ${(peer / seconds[key(`warden --threads ${THREADS}`, 'text')]!).toFixed(2)}x`,
      );
  }
}
console.log(`\n${ratios.join('\n')}`);
