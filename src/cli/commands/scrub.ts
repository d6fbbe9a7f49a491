import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { loadDetector, RuleFileError } from '../../detect/index.js';
import {
  createParallelScrubStream,
  ParallelScrubStream,
  defaultScrubThreads,
  createScrubStream,
  readKeepLines,
  DEFAULT_MAX_LINE_BYTES,
  MASK_STYLES,
  type MaskStyle,
  type ScrubFormat,
} from '../../scrub/index.js';
import { parseByteSize, parsePositiveInt } from '../parse.js';

/** Larger reads than the 64 KiB default: fewer batches, fewer detector passes. */
const READ_CHUNK_BYTES = 1024 * 1024;

export function registerScrub(program: Command): void {
  program
    .command('scrub')
    .description('Redact credentials from logs: stdin (or files) to stdout, line by line, with bounded memory.')
    .argument('[files...]', 'files to read in order (default: stdin; - also means stdin)')
    .addOption(
      new Option('--format <format>', 'text, ndjson (also redacts credential-named fields), or auto').choices(['text', 'ndjson', 'auto']).default('auto'),
    )
    .addOption(
      new Option('--mask <style>', 'full: [REDACTED:rule]; partial: keeps a non-secret prefix and the last 4; fingerprint: rule plus keyed HMAC')
        .choices([...MASK_STYLES])
        .default('full'),
    )
    .option('--rules <path...>', 'extra rule files or folders (same schema as the shipped rules)')
    .option('--max-line-bytes <size>', 'withhold lines longer than this (e.g. 8MB)', String(DEFAULT_MAX_LINE_BYTES))
    .option(
      '--threads <n>',
      'worker threads that scrub batches of lines while the main thread reads and writes; output in input order, the same bytes whatever N (default: one per core, or 1 for files under 256 MB in all, where workers take longer to start than they save; 1: no workers, everything on the main thread). With --listen the workers start with the server and scrub every batch (default one per core)',
    )
    .option('--keep-lines <file>', "lines planted on purpose (a canary key's log line), by SHA-256: they pass unchanged; the same secret elsewhere is redacted")
    .option('--stats', 'print lines, bytes and redactions per rule to stderr when done')
    .option('--listen <host:port>', 'run an HTTP ingest point for log shippers (POST NDJSON) instead of reading files')
    .option('--forward <url|file>', 'with --listen: where scrubbed batches go (an http(s) URL such as a ClickHouse INSERT, or a file to append)')
    .option(
      '--token-file <path>',
      'with --listen: bearer tokens, one a line, when WARDEN_INGEST_TOKEN (tokens separated by commas) is unset; created with one generated token, mode 0600, if missing (default ~/.config/warden/ingest-token)',
    )
    .option('--no-auth', 'with --listen on loopback: accept batches without a bearer token')
    .addHelpText(
      'after',
      `
Exit codes: 0 success; 2 bad usage or unreadable input.
Fingerprint masks use WARDEN_FINGERPRINT_KEY, or a key file created on first use
(~/.config/warden/fingerprint.key).

Examples:
  kubectl logs deploy/gateway | warden scrub --format ndjson > clean.log
  warden scrub --mask fingerprint --stats app.log > app.clean.log
  warden scrub --threads 1 app.log > app.clean.log    # one thread, no workers
  WARDEN_INGEST_TOKEN=… warden scrub --listen 127.0.0.1:8787 \\
    --forward 'http://127.0.0.1:8123/?query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow'`,
    )
    .action(
      async (
        files: string[],
        opts: {
          format: ScrubFormat;
          mask: MaskStyle;
          rules?: string[];
          maxLineBytes: string;
          threads?: string;
          keepLines?: string;
          stats?: boolean;
          listen?: string;
          forward?: string;
          tokenFile?: string;
          auth: boolean;
        },
      ) => {
        let detector;
        try {
          detector = loadDetector({ ruleFiles: opts.rules ?? [] }).detector;
        } catch (err) {
          if (err instanceof RuleFileError) throw new UsageError(err.message);
          throw err;
        }
        const keepLines = opts.keepLines ? readKeepLines(opts.keepLines) : [];
        if (opts.listen || opts.forward) {
          if (!opts.listen || !opts.forward || files.length) throw new UsageError('--listen and --forward go together, without input files');
          if (opts.tokenFile && !opts.auth) throw new UsageError('--token-file and --no-auth contradict each other');
          // Loaded here, not with the command: its HTTP server and outbound client would add a dozen modules
          // to the start of every scrub of a file.
          const { serveIngest } = await import('../../scrub/hooks/ingest.js');
          const stop = new AbortController();
          for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
          await serveIngest({
            listen: opts.listen,
            forward: opts.forward,
            auth: opts.auth,
            token: process.env.WARDEN_INGEST_TOKEN,
            tokenFile: opts.tokenFile,
            scrub: { mask: opts.mask, detector, maxLineBytes: parseByteSize(opts.maxLineBytes, '--max-line-bytes'), keepLines },
            ...(opts.threads === undefined ? {} : { threads: parseThreads(opts.threads) }),
            signal: stop.signal,
            log: (line) => process.stderr.write(`warden: ${line}\n`),
          });
          return;
        }
        const threads = opts.threads === undefined ? defaultScrubThreads(regularFileBytes(files)) : parseThreads(opts.threads);
        const options = { format: opts.format, mask: opts.mask, detector, maxLineBytes: parseByteSize(opts.maxLineBytes, '--max-line-bytes'), keepLines };
        const stream = threads === 1 ? createScrubStream(options) : createParallelScrubStream({ ...options, threads });
        const inputs = files.length ? files : ['-'];
        const started = process.hrtime.bigint();
        try {
          await pipeline(
            async function* () {
              for (const file of inputs) {
                const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
                for await (const chunk of source) yield chunk as Buffer;
              }
            },
            stream,
            stream instanceof ParallelScrubStream ? writtenBack(stream) : process.stdout,
          );
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw new UsageError(`cannot read ${e.path ?? 'input'}: ${e.code}`);
          throw err;
        }
        if (opts.stats) {
          const s = stream.stats;
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const lines = [
            `lines ${s.lines}  bytes ${s.bytes}  withheld-lines ${s.withheldLines}  ${(s.bytes / 1e6 / Math.max(seconds, 1e-9)).toFixed(1)} MB/s`,
            ...Object.entries(s.redactions)
              .sort((a, b) => b[1] - a[1])
              .map(([rule, n]) => `  ${String(n).padStart(8)}  ${rule}`),
          ];
          process.stderr.write(lines.join('\n') + '\n');
        }
      },
    );
}

/** Stdout, handing each chunk back to the parallel stream once it is written (ParallelScrubStream.recycle). */
function writtenBack(stream: ParallelScrubStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      process.stdout.write(chunk, (err) => {
        if (!err) stream.recycle(chunk);
        done(err);
      });
    },
  });
}

function parseThreads(value: string): number {
  return parsePositiveInt(value, '--threads', 256);
}

/** The bytes of the inputs when all are regular files (known ahead), else undefined (stdin, a pipe, unreadable). */
function regularFileBytes(files: string[]): number | undefined {
  if (files.length === 0) return undefined;
  let total = 0;
  for (const file of files) {
    if (file === '-') return undefined;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) return undefined;
      total += stat.size;
    } catch {
      return undefined; // the read reports it
    }
  }
  return total;
}
