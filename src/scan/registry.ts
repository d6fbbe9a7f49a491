/** Finds probes by folder: every module in `probes/` that exports Probe values. No list to edit. */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import type { Probe } from './types.js';

export const PROBES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'probes');

function isProbe(value: unknown): value is Probe {
  const p = value as Partial<Probe> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.id === 'string' &&
    Array.isArray(p.ports) &&
    typeof p.fingerprint === 'function' &&
    typeof p.assess === 'function'
  );
}

const isProbeModule = (name: string) => /\.(ts|js|mjs)$/.test(name) && !/\.(test|d)\.(ts|js|mjs)$/.test(name) && !name.startsWith('test-');

let cached: Promise<Probe[]> | undefined;

/** Loads every probe in `dir`, sorted by id; ids must be unique. */
export async function loadProbes(dir = PROBES_DIR): Promise<Probe[]> {
  if (dir === PROBES_DIR && cached) return cached;
  const load = (async () => {
    const probes: Probe[] = [];
    for (const name of readdirSync(dir).filter(isProbeModule).sort()) {
      const mod = (await import(pathToFileURL(join(dir, name)).href)) as Record<string, unknown>;
      probes.push(...Object.values(mod).filter(isProbe));
    }
    const seen = new Set<string>();
    for (const p of probes) {
      if (seen.has(p.id)) throw new Error(`duplicate probe id ${p.id}`);
      seen.add(p.id);
    }
    return probes.sort((a, b) => a.id.localeCompare(b.id));
  })();
  if (dir === PROBES_DIR) cached = load;
  return load;
}

/** The default port set: every port any probe names. */
export function defaultPorts(probes: Probe[]): number[] {
  return [...new Set(probes.flatMap((p) => p.ports))].sort((a, b) => a - b);
}

/** Probes to try on a port: those that name it first, then the rest (services on odd ports are still found). */
export function probesForPort(probes: Probe[], port: number): Probe[] {
  return [...probes.filter((p) => p.ports.includes(port)), ...probes.filter((p) => !p.ports.includes(port))];
}

/** What a scan runs: probe ids (`--probe`) and tags (`--tags`); a probe runs when it passes every filter given. */
export interface ProbeSelection {
  ids?: readonly string[];
  /** A probe carrying any one of these tags passes (`ai,data-store`: AI services and data stores). */
  tags?: readonly string[];
}

/** Every tag some probe carries, sorted: what `--tags` accepts. */
export function probeTags(probes: readonly Probe[]): string[] {
  return [...new Set(probes.flatMap((p) => p.tags))].sort();
}

/** The probes a selection keeps, in their order; an id or tag no probe has is a usage error naming the known ones. */
export function selectProbes(probes: readonly Probe[], selection: ProbeSelection): Probe[] {
  const unknownIds = (selection.ids ?? []).filter((id) => !probes.some((p) => p.id === id));
  if (unknownIds.length) throw new UsageError(`--probe: unknown ${unknownIds.join(', ')} (known: ${probes.map((p) => p.id).join(', ')})`);
  const known = probeTags(probes);
  if (selection.tags?.length === 0) throw new UsageError(`--tags: give at least one (known: ${known.join(', ')})`);
  const unknownTags = (selection.tags ?? []).filter((t) => !known.includes(t));
  if (unknownTags.length) throw new UsageError(`--tags: unknown ${unknownTags.join(', ')} (known: ${known.join(', ')})`);
  return probes.filter((p) => (!selection.ids || selection.ids.includes(p.id)) && (!selection.tags || p.tags.some((t) => selection.tags!.includes(t))));
}
