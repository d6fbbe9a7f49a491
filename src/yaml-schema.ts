/**
 * YAML files validated against a JSON Schema, with every error naming the file and line it is about.
 * Shared by warden.yaml, retention policies and the gateway config.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';

export type YamlPath = Array<string | number>;

/** Turns an error message into the error the caller throws (ConfigError, PolicyError, ...). */
export type FailWith = (message: string) => Error;

export interface SchemaMessages {
  /** A friendlier message for an error, or undefined for the generic one. `at` is the dotted path. */
  explain?: (error: ErrorObject, at: string) => string | undefined;
  /** Which of ajv's errors to show (oneOf reports every failed branch). Default: all, deduplicated. */
  keep?: (errors: ErrorObject[]) => ErrorObject[];
}

export class LocatedYaml {
  private constructor(
    readonly doc: Document,
    private readonly counter: LineCounter,
    readonly source: string,
  ) {}

  /** Parses `text`; a syntax error is thrown through `fail` with its line. */
  static parse(text: string, source: string, fail: FailWith): LocatedYaml {
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      throw fail(`${source}:${counter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
    }
    return new LocatedYaml(doc, counter, source);
  }

  toJS(): unknown {
    return this.doc.toJS();
  }

  /** The line of the node at `path` (of its key `key` when given); a missing node reports its parent. */
  lineAt(path: YamlPath, key?: string): number | undefined {
    let node = this.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === key);
      node = (pair?.key as { range?: [number, number, number] }) ?? node;
    }
    if (!node && path.length) return this.lineAt(path.slice(0, -1));
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.counter.linePos(offset).line;
  }

  /** `file:line` for the node at `path`, or just the file. */
  where(path: YamlPath, key?: string): string {
    const line = this.lineAt(path, key);
    return `${this.source}${line ? `:${line}` : ''}`;
  }

  /** Validates `value` (this document's data) against a compiled schema; throws every error with its line. */
  validate<T>(value: unknown, validate: ValidateFunction<T>, fail: FailWith, messages: SchemaMessages = {}): T {
    if (validate(value)) return value;
    const errors = dedupe((messages.keep ?? ((e) => e))(validate.errors ?? []));
    throw fail(
      errors
        .map((e) => {
          const key = offendingKey(e);
          const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the file';
          return `${this.where(pathOf(e), key)}: ${messages.explain?.(e, at) ?? explain(e, at)}`;
        })
        .join('\n'),
    );
  }
}

function pathOf(error: ErrorObject): YamlPath {
  return error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function offendingKey(error: ErrorObject): string | undefined {
  const p = error.params as { additionalProperty?: string; propertyName?: string };
  return p.additionalProperty ?? (error.keyword === 'propertyNames' ? p.propertyName : undefined);
}

function explain(error: ErrorObject, at: string): string {
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${at}: unknown field ${JSON.stringify(p.additionalProperty)}`;
  if (error.keyword === 'required') return `${at}: missing ${JSON.stringify(p.missingProperty)}`;
  if (error.keyword === 'enum') return `${at}: expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (error.keyword === 'propertyNames') return `${at}: unknown name ${JSON.stringify(p.propertyName)}`;
  return `${at}: ${error.message ?? 'invalid'}`;
}

function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.instancePath}:${e.keyword}:${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
