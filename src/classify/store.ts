import type { Database, TableInfo } from '../db/index.js';
import { classifyColumn, type ClassifyColumnOptions } from './classifier.js';
import { tableContext } from './context.js';
import type { StoreClassification, TableClassification } from './types.js';

export const DEFAULT_SAMPLE_SIZE = 100;

export interface ClassifyStoreOptions extends ClassifyColumnOptions {
  /** Non-null values sampled per column; default 100. */
  sampleSize?: number;
  /** Only tables whose `schema.name` or `name` passes. */
  includeTable?: (table: TableInfo) => boolean;
  onProgress?: (message: string) => void;
}

/** Lists every table the connection can see, samples each column and classifies it. */
export async function classifyStore(db: Database, options: ClassifyStoreOptions): Promise<StoreClassification> {
  const started = performance.now();
  const sampleSize = options.sampleSize ?? DEFAULT_SAMPLE_SIZE;
  const report: StoreClassification = {
    store: db.dsn.display,
    engine: db.engine,
    serverVersion: await db.serverVersion(),
    tables: [],
    errors: [],
    sampleSize,
    durationMs: 0,
  };
  const tables = (await db.listTables()).filter((t) => options.includeTable?.(t) ?? true);
  for (const table of tables) {
    const tableName = `${table.schema}.${table.name}`;
    options.onProgress?.(tableName);
    const sampled = [];
    for (const column of table.columns) {
      let values: unknown[];
      try {
        values = await db.sampleColumn(table, column.name, sampleSize);
      } catch (err) {
        report.errors.push({ table: tableName, column: column.name, message: (err as Error).message });
        values = [];
      }
      sampled.push({ ...column, values });
    }
    // Every column is sampled before any is classified: a column's siblings are part of its evidence.
    const context = tableContext(table, sampled);
    const result: TableClassification = {
      schema: table.schema,
      name: table.name,
      columns: sampled.map((c) => classifyColumn(c, c.values, options, context.get(c.name))),
    };
    report.tables.push(result);
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}
