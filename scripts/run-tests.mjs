#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ (or under the paths given) with node's own test runner,
// so CI reads its summary. Node 20's --test does not expand globs itself. The gateway's tests then run
// once more on its node:http engine (WARDEN_GATEWAY_ENGINE=node), and the last summary counts both runs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

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
// The gateway's test files (auth/ included: it runs mutual TLS through a gateway), but server.test.ts, which
// tests the llhttp server class itself, not an engine.
const gatewayFiles = files.filter((f) => /(?:^|[\\/])src[\\/]gateway[\\/].+\.test\.ts$/.test(f) && !/[\\/]gateway[\\/]server\.test\.ts$/.test(f));

// One file at a time: tests start real servers on fixed loopback ports. No --test-force-exit: on Node 20
// it can end a file while its last results are still on the way, and the run then passes with tests
// missing (seen here: 849 of 852 reported, all "passing"). Nor --test-timeout, which made that more
// likely. A hang is bounded here instead: the whole run fails after RUN_LIMIT_MS (a run takes under ten
// minutes), and a file that leaves a handle open shows up as that hang.
const RUN_LIMIT_MS = 30 * 60 * 1000;
const deadline = Date.now() + RUN_LIMIT_MS;
const reporter = process.stdout.isTTY ? 'spec' : 'tap';

// The summary lines of the tap and spec reporters (the latter perhaps coloured): the last of each counts.
const SUMMARY = /^(?:\x1b\[[\d;]*m)*(?:#|ℹ) (pass|fail) (\d+)/gm;
function summary(text) {
  const counts = { pass: 0, fail: 0 };
  for (const [, name, n] of text.matchAll(SUMMARY)) counts[name] = Number(n);
  return counts;
}
/** Failures in a run's count, or one for a run that failed without counting any (a hang, a crash). */
const failures = (r) => r.fail || (r.ok ? 0 : 1);

/** One `node --test` run, its output passed through: whether it passed, and its summary's counts. */
function run(testFiles, env) {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-reporter=${reporter}`, ...testFiles];
    const child = spawn(process.execPath, args, { stdio: ['inherit', 'pipe', 'inherit'], env });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4096);
    });
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      Math.max(0, deadline - Date.now()),
    );
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) console.error(`tests did not finish within ${RUN_LIMIT_MS / 60000} minutes: a test hangs`);
      resolve({ ok: code === 0 && !timedOut, ...summary(tail) });
    });
  });
}

const first = await run(files, process.env);
if (gatewayFiles.length === 0) process.exit(first.ok ? 0 : 1);
console.log(`# the gateway's tests again on its node:http engine (WARDEN_GATEWAY_ENGINE=node)`);
const second = await run(gatewayFiles, { ...process.env, WARDEN_GATEWAY_ENGINE: 'node' });
// CI reads the last summary: it counts both runs, and either failing fails the whole.
console.log(`# both runs: ${first.ok ? 'passed' : 'FAILED'} (default engine), ${second.ok ? 'passed' : 'FAILED'} (node engine)`);
console.log(`# pass ${first.pass + second.pass}`);
console.log(`# fail ${failures(first) + failures(second)}`);
process.exit(first.ok && second.ok ? 0 : 1);
