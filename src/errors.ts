/** Base of every error Warden raises on purpose; `code` is stable and machine-readable. */
export class WardenError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** Exit code the CLI uses: 2 bad usage or input, 3 a run that failed. */
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'WardenError';
  }
}

export class UsageError extends WardenError {
  constructor(message: string) {
    super(message, 'USAGE', 2);
  }
}
