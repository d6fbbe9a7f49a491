/**
 * Planting canaries where a leak would carry them, and checking they are still there. Only the canary's
 * hash is stored, so a check finds key-shaped values in the planted place and asks the key store whose
 * they are: nothing that finds the canary needs the canary.
 */
import { appendFileSync, createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openDatabase, type Database } from '../db/index.js';
import { plantedLineHash } from '../scrub/index.js';
import { WardenError } from '../errors.js';
import { KEY_CHECKSUM_LENGTH, KEY_RANDOM_LENGTH } from './format.js';
import type { KeyStore } from './key-store.js';

export class CanaryPlantError extends WardenError {
  constructor(message: string) {
    super(message, 'CANARY_PLANT_FAILED', 3);
  }
}

/** A place a canary can be written: a table's column (one new row), an env file's variable, a log file's line. */
export type PlantTarget =
  | { kind: 'table'; dsn: string; table: string; column: string; set?: Record<string, string> }
  | { kind: 'env-file'; path: string; variable: string }
  | { kind: 'log'; path: string; line: string; keepList?: string }
  | { kind: 'stream'; line: string; keepList: string; write: (line: string) => void };

/** What the planting record keeps to find the canary again (never the canary). */
type Locator =
  | { kind: 'table'; dsn: string; table: string; column: string }
  | { kind: 'env-file'; path: string; variable: string }
  | { kind: 'log'; path: string }
  | { kind: 'stream'; keepList: string };

export interface PlantingCheck {
  keyId: string;
  target: string;
  /** Null when the place could not be read: unknown, never "still there". */
  present: boolean | null;
  /** What the check before this one found (null: never checked, or unknown), so a change can be told once. */
  before: boolean | null;
  error?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
/** At most this many candidate values are read back from a table when checking a planting. */
const MAX_CANDIDATES = 1000;

/** The string a locator is listed under: says where, never how to log in. */
function targetName(locator: Locator, display?: string): string {
  switch (locator.kind) {
    case 'table':
      return `${display ?? locator.dsn}#${locator.table}.${locator.column}`;
    case 'env-file':
      return `env-file:${locator.path}#${locator.variable}`;
    case 'log':
      return `log:${locator.path}`;
    case 'stream':
      return `log stream kept by ${locator.keepList}`;
  }
}

/**
 * The planted log line, and its hash added to the keep list `warden scrub --keep-lines` reads: that line
 * passes the scrubber unchanged, the canary anywhere else is redacted.
 */
function plantedLine(template: string, key: string, keepList: string | undefined): string {
  if (!template.includes('{key}') || /[\r\n]/.test(template)) throw new CanaryPlantError('the log line must be one line holding {key} where the canary goes');
  const line = template.replace('{key}', key);
  if (keepList !== undefined) appendFileSync(keepList, `${plantedLineHash(line)}\n`);
  return line;
}

function tableParts(db: Database, table: string): { schema: string; name: string } {
  if (!TABLE_NAME.test(table)) throw new CanaryPlantError(`table ${JSON.stringify(table)}: expected name or schema.name`);
  const [a, b] = table.split('.');
  return b === undefined ? { schema: db.dsn.database || (db.engine === 'clickhouse' ? 'default' : 'public'), name: a! } : { schema: a!, name: b };
}

/** Writes `key` (a canary made by `createCanary`) into the target and records the planting. */
export async function plantCanary(
  keys: KeyStore,
  keyId: string,
  key: string,
  target: PlantTarget,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ target: string }> {
  const canary = await keys.canaries.get(keyId);
  if (!canary) throw new CanaryPlantError(`no canary with id ${JSON.stringify(keyId)}`);
  if ((await keys.identify(key))?.id !== keyId) throw new CanaryPlantError(`the key given is not canary ${keyId}`);
  let locator: Locator;
  let display: string | undefined;
  switch (target.kind) {
    case 'table': {
      const db = await openDatabase(target.dsn, env);
      try {
        const table = tableParts(db, target.table);
        const values: Record<string, string> = { ...target.set, [target.column]: key };
        const columns = Object.keys(values);
        await db.execute(
          `INSERT INTO ${db.qualified(table)} (${columns.map((c) => db.quoteIdent(c)).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          Object.values(values),
        );
        display = db.dsn.display;
      } catch (err) {
        throw new CanaryPlantError(`could not plant into ${target.table}: ${(err as Error).message}`);
      } finally {
        await db.close();
      }
      locator = { kind: 'table', dsn: target.dsn, table: target.table, column: target.column };
      break;
    }
    case 'env-file': {
      if (!ENV_NAME.test(target.variable)) throw new CanaryPlantError(`variable ${JSON.stringify(target.variable)}: expected an environment variable name`);
      let text = '';
      try {
        text = readFileSync(target.path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CanaryPlantError(`could not read ${target.path}: ${(err as Error).message}`);
      }
      const line = `${target.variable}=${key}`;
      const assignment = new RegExp(`^(export\\s+)?${target.variable}=.*$`, 'm');
      writeFileSync(target.path, assignment.test(text) ? text.replace(assignment, line) : `${text}${text && !text.endsWith('\n') ? '\n' : ''}${line}\n`);
      locator = { kind: 'env-file', path: target.path, variable: target.variable };
      break;
    }
    case 'log': {
      appendFileSync(target.path, `${plantedLine(target.line, key, target.keepList)}\n`);
      locator = { kind: 'log', path: target.path };
      break;
    }
    case 'stream': {
      target.write(plantedLine(target.line, key, target.keepList));
      locator = { kind: 'stream', keepList: target.keepList };
      break;
    }
  }
  const name = targetName(locator, display);
  await keys.canaries.addPlanting(keyId, name, JSON.stringify(locator));
  return { target: name };
}

/** Key-shaped values in a text: what a check asks the key store about. */
function keyShaped(text: string, prefix: string): string[] {
  const shape = new RegExp(`(?<![A-Za-z0-9_])${prefix}_(?:live|test)_[A-Za-z0-9]{${KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH}}(?![A-Za-z0-9_])`, 'g');
  return text.match(shape) ?? [];
}

async function holdsCanary(keys: KeyStore, keyId: string, texts: Iterable<string>): Promise<boolean> {
  for (const text of texts) for (const token of keyShaped(text, keys.prefix)) if ((await keys.identify(token))?.id === keyId) return true;
  return false;
}

async function readPlanting(keys: KeyStore, keyId: string, locator: Exclude<Locator, { kind: 'stream' }>, env: NodeJS.ProcessEnv): Promise<boolean> {
  switch (locator.kind) {
    case 'table': {
      const db = await openDatabase(locator.dsn, env);
      try {
        const table = tableParts(db, locator.table);
        const column = db.quoteIdent(locator.column);
        // The last characters are stored in clear; they narrow the rows read to the canary's look-alikes.
        const last4 = (await keys.canaries.get(keyId))!.display.slice(-4);
        const rows = await db.query<{ v: unknown }>(`SELECT ${column} AS v FROM ${db.qualified(table)} WHERE ${column} LIKE ? LIMIT ${MAX_CANDIDATES}`, [
          `%${last4}%`,
        ]);
        return holdsCanary(
          keys,
          keyId,
          rows.map((r) => String(r.v ?? '')),
        );
      } finally {
        await db.close();
      }
    }
    case 'env-file': {
      const assignment = new RegExp(`^(export\\s+)?${locator.variable}=`);
      return holdsCanary(
        keys,
        keyId,
        readFileSync(locator.path, 'utf8')
          .split('\n')
          .filter((l) => assignment.test(l)),
      );
    }
    case 'log': {
      const lines = createInterface({ input: createReadStream(locator.path), crlfDelay: Infinity });
      for await (const line of lines) if (await holdsCanary(keys, keyId, [line])) return true;
      return false;
    }
  }
}

/**
 * Checks every planting (or one canary's): still there, gone (a deleted canary is a finding too), or
 * unknown when the place could not be read. Each answer is recorded on the planting.
 */
export async function checkPlantings(keys: KeyStore, options: { keyId?: string; env?: NodeJS.ProcessEnv } = {}): Promise<PlantingCheck[]> {
  const checks: PlantingCheck[] = [];
  for (const planting of await keys.canaries.plantings(options.keyId)) {
    const locator = JSON.parse(planting.locator) as Locator;
    // A line sent into a stream is gone by design: nothing to check, so nothing to report.
    if (locator.kind === 'stream') continue;
    let present: boolean | null = null;
    let error: string | undefined;
    try {
      present = await readPlanting(keys, planting.keyId, locator, options.env ?? process.env);
      await keys.canaries.markChecked(planting.keyId, planting.target, present);
    } catch (err) {
      error = (err as Error).message;
    }
    checks.push({ keyId: planting.keyId, target: planting.target, present, before: planting.present, ...(error !== undefined ? { error } : {}) });
  }
  return checks;
}
