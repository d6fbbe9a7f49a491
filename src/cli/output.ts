/** Human output goes to stderr; stdout carries data only. Colour follows NO_COLOR and the TTY. */
export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Color = keyof typeof CODES;

export function paint(text: string, color: Color, enabled = useColor()): string {
  return enabled ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text;
}

/** A one-line progress indicator on stderr, shown only on a TTY. */
export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const enabled = Boolean(stream.isTTY);
  let last = 0;
  return {
    update(message: string) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      stream.write(`\r\u001b[2K${label}: ${message}`);
    },
    done() {
      if (enabled) stream.write('\r\u001b[2K');
    },
  };
}

let readerLeft = false;

function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  readerLeft = true;
}

/**
 * `warden … | head` closes the pipe once the reader has what it wants, and every later write fails
 * with EPIPE. That is not an error of the command: the rest of its output is dropped, quietly, and it
 * still ends with its own exit code (findings nobody read are still findings).
 */
export function dropOutputWhenReaderLeaves(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!stream.listeners('error').includes(onOutputError)) stream.on('error', onOutputError);
  }
}

/** True for the EPIPE a command sees when it awaits a write (a stream pipeline) after the reader left. */
export function isReaderGone(err: unknown): boolean {
  return readerLeft && (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}
