#!/usr/bin/env node
// tsc compiles code only; the detectors are data (YAML), as are the gateway's Envoy protos, and they ship beside the compiled modules. The
// shipped secret rules are also validated and bundled into one JSON file, so a CLI start parses no YAML.
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ya?ml|json|html|css|svg|proto)$/.test(name)) cpSync(path, join('dist', relative('src', path)));
  }
}
walk('src');

// The loader prefers an existing bundle; remove it first so the new one is built from the YAML.
rmSync('dist/detect/rules.bundle.json', { force: true });
rmSync('dist/detect/automaton.bin', { force: true });
const { loadShippedRuleFiles, SHIPPED_RULES_BUNDLE } = await import('../dist/detect/load.js');
const files = loadShippedRuleFiles().map((f) => ({ ...f, path: relative('dist', f.path) }));
writeFileSync(SHIPPED_RULES_BUNDLE, JSON.stringify(files));

// The shipped rules' keyword automaton, built once here so a process or worker starts without building it.
// It names the keywords it was built from and is used only for those.
const { getDefaultDetector } = await import('../dist/detect/index.js');
writeFileSync('dist/detect/automaton.bin', getDefaultDetector().serializedAutomaton());
