/**
 * rsyslog's omprog output piping lines through the real `warden scrub`, with a real rsyslogd (Debian's
 * package, installed by scripts/services.sh) run in the foreground on a private config and port.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { expandSample } from '../../src/detect/index.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 61) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 62);

describe('rsyslog omprog → warden scrub', { skip: RSYSLOGD ? false : 'rsyslogd is not installed (scripts/services.sh installs it)' }, () => {
  it('every line arrives once, in order, with the key redacted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-rsyslog-'));
    const out = join(dir, 'clean.log');
    const wrapper = join(dir, 'warden-scrub.sh');
    // The documented wrapper, pointed at the source tree instead of an installed `warden`.
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncd '${ROOT}' && exec '${process.execPath}' --import tsx --input-type=module -e "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));" scrub --format text >> '${out}'\n`,
    );
    chmodSync(wrapper, 0o755);
    const port = await freePort();
    const config = join(dir, 'rsyslog.conf');
    writeFileSync(
      config,
      `global(workDirectory="${dir}")
module(load="imtcp")
module(load="omprog")
template(name="MessageOnly" type="string" string="%msg:2:$%\\n")
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="scrub")
ruleset(name="scrub") {
  action(type="omprog" binary="${wrapper}" template="MessageOnly")
}
`,
    );
    const check = spawnSync(RSYSLOGD!, ['-N1', '-f', config], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const daemon = spawn(RSYSLOGD!, ['-n', '-f', config, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const socket = await waitFor(
        'rsyslogd to listen',
        () =>
          new Promise<ReturnType<typeof connect> | undefined>((resolve) => {
            const s = connect(port, '127.0.0.1');
            s.once('connect', () => resolve(s));
            s.once('error', () => resolve(undefined));
          }),
        30_000,
        100,
      );
      const sent = Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? `request ${i} with key ${KEY}` : `request ${i} ok`));
      await new Promise<void>((resolve) => socket.end(sent.map((m) => `<14>Nov 26 00:00:00 gateway app: ${m}\n`).join(''), resolve));
      const lines = await waitFor(
        'scrubbed lines',
        () => {
          const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
          const got = text.split('\n').filter(Boolean);
          return got.length >= sent.length ? got : undefined;
        },
        30_000,
        100,
      );
      assert.deepEqual(
        lines,
        sent.map((m) => m.replace(KEY, '[REDACTED:openai-project-key]')),
      );
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('close', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
