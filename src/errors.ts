/**
 * Errors a user can act on: bad files, bad flags, unsupported models.
 * The CLI prints these as one line and exits with code 2; anything else is a bug and keeps its stack.
 */
export class SdllmError extends Error {
  /** The file the problem is in, when there is one; printed first so users see where to look. */
  readonly file?: string;
  constructor(message: string, file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'SdllmError';
    this.file = file;
  }
}

export function fail(message: string, file?: string): never {
  throw new SdllmError(message, file);
}
