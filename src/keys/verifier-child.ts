// A separate verifier process for propagation tests and the benchmark. Reads one JSON line on
// stdin ({ location, secret, key }: the key never travels in argv), verifies the key in a loop,
// prints "ready" once it is valid and "stopped <epoch ms>" when it no longer is, then exits.
import { createInterface } from 'node:readline';
import { KeyStore } from './key-store.js';
import { parseKeySecrets } from './secret.js';

const line = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
const { location, secret, key } = JSON.parse(line) as { location: string; secret: string; key: string };
const keys = await KeyStore.open({ store: location, secrets: parseKeySecrets(secret, 'stdin', (s) => Buffer.from(s, 'base64')) });
let ready = false;
for (;;) {
  const check = await keys.verify(key);
  if (check.valid && !ready) {
    ready = true;
    process.stdout.write('ready\n');
  } else if (!check.valid && ready) {
    process.stdout.write(`stopped ${Date.now()} ${check.reason}\n`);
    break;
  }
  await new Promise((r) => setTimeout(r, 1));
}
await keys.close();
