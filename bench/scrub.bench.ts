// Throughput and memory of `warden scrub` against secretlint (the npm peer) on the same generated
// AI-gateway corpus, in the same run. Usage:
//   (cd bench && npm install) && npx tsx bench/scrub.bench.ts [--sizes 100MB,2GB] [--peer-size 100MB] [--rounds 3]
// Each figure is the median of --rounds runs (peak RSS the highest), the tools taking turns.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseByteSize } from '../src/cli/parse.js';
import { getDefaultDetector } from '../src/detect/index.js';
import { writeCorpus } from './corpus.js';
import { machineLine, measure, median } from './measure.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench', 'out');
const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '100MB,1GB' }, 'peer-size': { type: 'string', default: '100MB' }, rounds: { type: 'string', default: '3' } },
});
const ROUNDS = Math.max(1, Number(values.rounds));
const sizes = values.sizes!.split(',').map((s) => parseByteSize(s, '--sizes'));
const peerSize = parseByteSize(values['peer-size']!, '--peer-size');
mkdirSync(OUT, { recursive: true });

/** The corpus of that size, generated once and kept in bench/out with its line count beside it. */
async function corpus(bytes: number): Promise<{ path: string; lines: number }> {
  const path = join(OUT, `gateway-${bytes}.ndjson`);
  if (existsSync(path) && existsSync(`${path}.lines`)) return { path, lines: Number(readFileSync(`${path}.lines`, 'utf8')) };
  const lines = await writeCorpus(path, bytes);
  writeFileSync(`${path}.lines`, String(lines));
  return { path, lines };
}

const warden = join(ROOT, 'bin', 'warden.js');
const secretlint = join(ROOT, 'bench', 'node_modules', '.bin', 'secretlint');
const rc = join(OUT, 'secretlintrc.json');
writeFileSync(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));

console.log(`# scrub benchmark\n${machineLine()}\nrules loaded: ${getDefaultDetector().rules.length}\n`);
console.log('| tool | mode | input | seconds | MB/s | lines/s | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|');
const rows: Record<string, number> = {};
for (const bytes of [...new Set([...sizes, peerSize])].sort((a, b) => a - b)) {
  const { path, lines } = await corpus(bytes);
  const size = statSync(path).size;
  const runs: Array<[string, string, string[]]> = [
    ['warden', 'text', [warden, 'scrub', '--format', 'text', path]],
    ['warden', 'ndjson', [warden, 'scrub', '--format', 'ndjson', path]],
  ];
  if (bytes === peerSize) {
    if (existsSync(secretlint)) runs.push(['secretlint 10.2.2', 'lint', [secretlint, '--secretlintrc', rc, '--format', 'compact', path]]);
    else console.log('(secretlint not installed: run `cd bench && npm install`)');
  }
  const samples = runs.map(() => ({ seconds: [] as number[], peakRssMB: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, , args]] of runs.entries()) {
      const m = await measure(process.execPath, args);
      samples[i]!.seconds.push(m.seconds);
      samples[i]!.peakRssMB = Math.max(samples[i]!.peakRssMB, m.peakRssMB);
    }
  }
  for (const [i, [tool, mode]] of runs.entries()) {
    const seconds = median(samples[i]!.seconds);
    const mbs = size / 1e6 / seconds;
    rows[`${tool}/${mode}/${bytes}`] = mbs;
    console.log(`| ${tool} | ${mode} | ${(size / 1e6).toFixed(0)} MB | ${seconds.toFixed(2)} | ${mbs.toFixed(1)} | ${Math.round(lines / seconds)} | ${samples[i]!.peakRssMB.toFixed(0)} |`);
  }
}
const peer = rows[`secretlint 10.2.2/lint/${peerSize}`];
const ours = rows[`warden/text/${peerSize}`];
if (peer && ours) console.log(`\nwarden text / secretlint throughput ratio at ${(peerSize / 1e6).toFixed(0)} MB: ${(ours / peer).toFixed(2)}x`);
