// What every CLI command writes to, and the error that means "wrong arguments" (exit 2).

export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Bad arguments: main prints the message and the command's usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
