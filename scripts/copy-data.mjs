#!/usr/bin/env node
// tsc compiles code only; the detectors are data (YAML) and ship beside the compiled modules.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ya?ml|json|html|css|svg)$/.test(name)) cpSync(path, join('dist', relative('src', path)));
  }
}
walk('src');
