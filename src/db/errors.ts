import { WardenError } from '../errors.js';

/** A bad connection string or a connection Warden could not make; the message never holds a password. */
export class DsnError extends WardenError {
  constructor(message: string) {
    super(message, 'DSN', 2);
    this.name = 'DsnError';
  }
}

/** The server refused a statement or could not be reached during a run. */
export class DbError extends WardenError {
  constructor(message: string) {
    super(message, 'DB', 3);
    this.name = 'DbError';
  }
}
