// Detection quality per credential family on a generated, labelled corpus: recall and precision of
// `warden scrub` on log lines, of `warden detect` on credential files, and clean lines changed.
// The peer, secretlint with its recommended preset (`cd bench && npm install`), reads the same corpus in the
// same run; it only reports, so its figure is lines reported.
// Usage: npx tsx bench/detect-quality/run.ts [--logs-per-family N] [--files-per-family N] [--clean-lines N]
//        [--seed N] [--misses] [--json] [--no-peer] [--write-floors]
// --write-floors measures the test's corpus and writes its recall as the floors quality.test.ts enforces.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machineLine } from '../measure.js';
import { BENCH_CORPUS, floorsOf, generateCorpus, measureQuality, TEST_CORPUS, type CorpusSize, type FamilyResult, type QualityReport } from './measure.js';
import { measurePeer, peerInstalled, type PeerRecall } from './peer.js';

const FLOORS_PATH = new URL('./floors.json', import.meta.url);

const { values } = parseArgs({
  options: {
    'logs-per-family': { type: 'string', default: String(BENCH_CORPUS.logsPerFamily) },
    'files-per-family': { type: 'string', default: String(BENCH_CORPUS.filesPerFamily) },
    'clean-lines': { type: 'string', default: String(BENCH_CORPUS.cleanLines) },
    seed: { type: 'string', default: String(BENCH_CORPUS.seed) },
    misses: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'write-floors': { type: 'boolean', default: false },
    'no-peer': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npx tsx bench/detect-quality/run.ts [--logs-per-family N] [--files-per-family N] [--clean-lines N] [--seed N] [--misses] [--json] [--no-peer] [--write-floors]',
  );
  process.exit(0);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function table(title: string, rows: FamilyResult[], files: boolean, peer: PeerRecall | undefined): string {
  const peerHead = peer ? ' secretlint: lines reported |' : '';
  const head = files
    ? `| family | credential lines | recall | recall at default confidence | precision | files covered |${peerHead}\n|---|---|---|---|---|---|${peer ? '---|' : ''}`
    : `| family | secrets | recall (removed) | negatives changed | precision |${peerHead}\n|---|---|---|---|---|${peer ? '---|' : ''}`;
  const peerCell = (family: string) => {
    const p = peer?.get(family);
    return peer ? ` ${p ? pct(p.credentials ? p.found / p.credentials : 1) : 'n/a'} |` : '';
  };
  const body = rows.map((r) =>
    files
      ? `| ${r.family} | ${r.credentials} | ${pct(r.recall)} | ${pct((r.foundAtDefault ?? 0) / Math.max(1, r.credentials))} | ${pct(r.precision)} | ${r.filesCovered}/${r.files} |${peerCell(r.family)}`
      : `| ${r.family} | ${r.credentials} | ${pct(r.recall)} | ${r.falsePositives}/${r.negatives} | ${pct(r.precision)} |${peerCell(r.family)}`,
  );
  const found = rows.reduce((n, r) => n + r.found, 0);
  const all = rows.reduce((n, r) => n + r.credentials, 0);
  const peerAll = peer
    ? [...peer.values()].reduce((a, p) => ({ found: a.found + p.found, credentials: a.credentials + p.credentials }), { found: 0, credentials: 0 })
    : undefined;
  const peerLine = peerAll
    ? `; secretlint ${peerAll.found}/${peerAll.credentials} = ${pct(peerAll.credentials ? peerAll.found / peerAll.credentials : 1)} lines reported`
    : '';
  return `## ${title}\n${head}\n${body.join('\n')}\n\nall families: ${found}/${all} = ${pct(all ? found / all : 1)}${peerLine}\n`;
}

function print(report: QualityReport, peer?: { logs: PeerRecall; files: PeerRecall }): void {
  console.log(
    `# detection quality\n${machineLine()}\ncorpus: seed ${report.corpus.seed}, ${report.corpus.logsPerFamily} log records and ${report.corpus.filesPerFamily} files a family, ${report.cleanLines} clean lines\n`,
  );
  console.log(table('log lines (warden scrub: was the secret removed?)', report.logs, false, peer?.logs));
  console.log(table('credential files (warden detect: was the line reported?)', report.files, true, peer?.files));
  console.log(`clean log lines changed by scrub: ${report.cleanLinesChanged}/${report.cleanLines}; detector findings on them: ${report.cleanFindings}`);
  const skipped = new Map<string, number>();
  for (const s of report.skippedFiles) skipped.set(`${s.family} (${s.reason})`, (skipped.get(`${s.family} (${s.reason})`) ?? 0) + 1);
  if (skipped.size) console.log(`files detect did not read: ${[...skipped].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  if (values.misses) {
    for (const r of [...report.logs, ...report.files]) if (r.misses.length) console.log(`\n### ${r.family}\n${r.misses.map((m) => `- ${m}`).join('\n')}`);
  }
}

if (values['write-floors']) {
  const report = await measureQuality(TEST_CORPUS);
  writeFileSync(FLOORS_PATH, `${JSON.stringify(floorsOf(report), null, 2)}\n`);
  console.log(`wrote ${FLOORS_PATH.pathname} from the test corpus`);
  print(report);
} else {
  const size: CorpusSize = {
    seed: Number(values.seed),
    logsPerFamily: Number(values['logs-per-family']),
    filesPerFamily: Number(values['files-per-family']),
    cleanLines: Number(values['clean-lines']),
  };
  const report = await measureQuality(size);
  let peer: { logs: PeerRecall; files: PeerRecall } | undefined;
  if (!values['no-peer']) {
    if (peerInstalled()) {
      const { records, files } = generateCorpus(size);
      peer = await measurePeer(records, files);
    } else console.error('(secretlint not installed: run `cd bench && npm install`)');
  }
  if (values.json)
    console.log(
      JSON.stringify({ ...report, ...(peer ? { peer: { logs: Object.fromEntries(peer.logs), files: Object.fromEntries(peer.files) } } : {}) }, null, 2),
    );
  else print(report, peer);
}
