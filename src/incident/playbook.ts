/**
 * Playbooks are data: one YAML file per incident kind in `playbooks/`, checked against
 * `schema/playbook.schema.json`. Each exports to an OASIS CACAO v2.0 playbook for teams that run a SOAR.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { WardenError } from '../errors.js';
import type { Severity } from '../detect/index.js';
import type { IncidentKind } from './types.js';

/** `schema/playbook.schema.json`, two folders up from both `src/incident` and `dist/incident`. */
export const PLAYBOOK_SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../schema/playbook.schema.json', import.meta.url)), 'utf8')) as object;
export const PLAYBOOKS_DIR = fileURLToPath(new URL('./playbooks/', import.meta.url));

const validate = new Ajv({ allErrors: true, strict: false }).compile(PLAYBOOK_SCHEMA);

export type PlaybookPhase = 'detection' | 'containment' | 'eradication' | 'recovery' | 'notification' | 'post-incident';
export type AutomatedAction = 'triage' | 'revoke-warden-keys' | 'deadlines';

export interface PlaybookStep {
  id: string;
  title: string;
  phase: PlaybookPhase;
  owner: string;
  description?: string;
  automated?: AutomatedAction;
  depends_on?: string[];
}

export interface Playbook {
  kind: IncidentKind;
  version: number;
  title: string;
  description: string;
  severity: Severity;
  atlas: string[];
  steps: PlaybookStep[];
}

export class PlaybookError extends WardenError {
  constructor(message: string) {
    super(message, 'PLAYBOOK_INVALID', 2);
    this.name = 'PlaybookError';
  }
}

/** Parses and checks one playbook: the schema, then what a schema cannot say (ids unique, dependencies known). */
export function parsePlaybook(text: string, source: string): Playbook {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new PlaybookError(`${source}: not YAML: ${(err as Error).message}`);
  }
  if (!validate(doc)) {
    const first = validate.errors?.[0];
    throw new PlaybookError(`${source}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const playbook = doc as Playbook;
  const ids = new Set<string>();
  for (const step of playbook.steps) {
    if (ids.has(step.id)) throw new PlaybookError(`${source}: step id ${step.id} appears twice`);
    for (const dep of step.depends_on ?? []) {
      if (!ids.has(dep)) throw new PlaybookError(`${source}: step ${step.id} depends on ${dep}, which is not an earlier step`);
    }
    ids.add(step.id);
  }
  return playbook;
}

/** Every playbook file in a folder (default: the shipped ones), by kind. */
export function loadPlaybooks(dir = PLAYBOOKS_DIR): Map<IncidentKind, Playbook> {
  const out = new Map<IncidentKind, Playbook>();
  for (const name of readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()) {
    const playbook = parsePlaybook(readFileSync(join(dir, name), 'utf8'), name);
    if (`${playbook.kind}.yaml` !== name && `${playbook.kind}.yml` !== name)
      throw new PlaybookError(`${name}: holds kind ${playbook.kind}; name the file after its kind`);
    out.set(playbook.kind, playbook);
  }
  return out;
}

let shipped: Map<IncidentKind, Playbook> | undefined;

export function getPlaybook(kind: IncidentKind): Playbook {
  shipped ??= loadPlaybooks();
  const playbook = shipped.get(kind);
  if (!playbook) throw new PlaybookError(`no playbook for kind ${kind}`);
  return playbook;
}

/** A stable CACAO identifier: the same playbook version always exports the same ids (RFC 4122 layout from SHA-256). */
function cacaoId(type: string, ...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${type}--${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const CACAO_SEVERITY: Record<Severity, number> = { info: 10, low: 30, medium: 50, high: 70, critical: 90 };
const PLAYBOOK_TYPES: Record<PlaybookPhase, string> = {
  detection: 'investigation',
  containment: 'mitigation',
  eradication: 'remediation',
  recovery: 'remediation',
  notification: 'notification',
  'post-incident': 'investigation',
};
const WARDEN_COMMANDS: Record<AutomatedAction, string> = {
  triage: 'warden incident triage "$INCIDENT_ID" "$SOURCE"',
  'revoke-warden-keys': 'warden incident triage "$INCIDENT_ID" "$SOURCE" --revoke',
  deadlines: 'warden incident status "$INCIDENT_ID"',
};

/**
 * The playbook as a CACAO v2.0 document. The steps run in file order (CACAO's `on_completion` chain); a
 * step's owner becomes an `individual` agent named after the role, and an automated step carries the
 * Warden command as a `bash` command beside a manual one, so a SOAR can run it or a human can.
 * `created` and `modified` are fixed by `at` (default: now) so exports of one version can be compared.
 */
export function toCacao(playbook: Playbook, at: Date = new Date()): Record<string, unknown> {
  const key = `${playbook.kind}@${playbook.version}`;
  const start = cacaoId('start', key, 'start');
  const end = cacaoId('end', key, 'end');
  const agents = new Map<string, string>();
  for (const s of playbook.steps) if (!agents.has(s.owner)) agents.set(s.owner, cacaoId('individual', key, 'owner', s.owner));
  const stepIds = playbook.steps.map((s) => cacaoId('action', key, 'step', s.id));
  const workflow: Record<string, unknown> = { [start]: { type: 'start', name: 'start', on_completion: stepIds[0] ?? end } };
  playbook.steps.forEach((s, i) => {
    const commands: Array<Record<string, string>> = [{ type: 'manual', command: s.description ? `${s.title}. ${s.description}` : s.title }];
    if (s.automated) commands.push({ type: 'bash', command: WARDEN_COMMANDS[s.automated], description: `Warden action ${s.automated}` });
    workflow[stepIds[i]!] = {
      type: 'action',
      name: s.title,
      ...(s.description ? { description: s.description } : {}),
      commands,
      agent: agents.get(s.owner),
      on_completion: stepIds[i + 1] ?? end,
      ...(s.depends_on?.length ? { external_references: s.depends_on.map((d) => ({ name: `depends on ${d}` })) } : {}),
    };
  });
  workflow[end] = { type: 'end', name: 'end' };
  const iso = at.toISOString();
  return {
    type: 'playbook',
    spec_version: 'cacao-2.0',
    id: cacaoId('playbook', key),
    name: playbook.title,
    description: playbook.description,
    playbook_types: [...new Set(playbook.steps.map((s) => PLAYBOOK_TYPES[s.phase]))],
    created_by: cacaoId('identity', 'warden'),
    created: iso,
    modified: iso,
    revoked: false,
    priority: CACAO_SEVERITY[playbook.severity],
    severity: CACAO_SEVERITY[playbook.severity],
    labels: [`warden-incident-kind:${playbook.kind}`, `warden-playbook-version:${playbook.version}`, ...playbook.atlas.map((t) => `mitre-atlas:${t}`)],
    external_references: playbook.atlas.map((t) => ({ name: `MITRE ATLAS ${t}`, url: `https://atlas.mitre.org/techniques/${t}` })),
    workflow_start: start,
    workflow,
    agent_definitions: Object.fromEntries([...agents].map(([owner, id]) => [id, { type: 'individual', name: owner }])),
  };
}
