#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ (or under the paths given) with node's own test runner,
// so CI reads its summary. Node 20's --test does not expand globs itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(path, out) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return out;
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return out;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    collect(join(path, name), out);
  }
  return out;
}

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['src', 'test'];
const files = roots.flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(2);
}
// One file at a time: tests start real servers on fixed loopback ports. A test that hangs fails after
// ten minutes, and a file whose tests are done but left a handle open still ends.
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit', ...files];
const result = spawnSync(process.execPath, args, {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
