// The one place that turns arguments into remote shell text. Every command gridhost sends to a
// dom0 is an argv array joined here; nothing is interpolated into a shell string anywhere else.
import { GridhostError } from '../../errors/errors.ts';

// Words made only of these characters mean the same quoted or not. `=` is left out because a
// leading `NAME=value` word would be read as an assignment, `~` because of tilde expansion.
const PLAIN = /^[A-Za-z0-9_\/.,:@%+-]+$/;

/** POSIX single-quote one argument so any `sh` reads it back byte for byte. Rejects NUL. */
export function shq(arg: string): string {
  if (arg.includes('\0')) {
    throw new GridhostError('GH_UNSAFE_ARGUMENT', 'argument contains a NUL byte, which no shell argument can carry', { arg: JSON.stringify(arg) });
  }
  if (PLAIN.test(arg)) return arg;
  // Inside single quotes nothing is special except the closing quote: end, add \', reopen.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Join an argv into one command line for `sh -c`, each word quoted by shq(). */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new GridhostError('GH_UNSAFE_ARGUMENT', 'empty command');
  return argv.map(shq).join(' ');
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Guest, pool and volume names: letters, digits, `_ . -`, starting alphanumeric, at most 64 chars. */
export function assertSafeName(s: string): string {
  if (typeof s !== 'string' || !SAFE_NAME.test(s) || s.includes('..')) {
    throw new GridhostError(
      'GH_UNSAFE_ARGUMENT',
      `name ${JSON.stringify(s)} is not safe: use 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`,
      { name: String(s) },
    );
  }
  return s;
}

/** Does the path climb out of where it is put (a `..` segment)? The one rule for every path check. */
export function hasDotDotSegment(s: string): boolean {
  return s.split('/').includes('..');
}

/** Absolute paths without control characters or `..` segments. */
export function assertSafePath(s: string): string {
  // eslint-disable-next-line no-control-regex
  const bad = typeof s !== 'string' || !s.startsWith('/') || /[\u0000-\u001f\u007f]/.test(s) || hasDotDotSegment(s);
  if (bad) {
    throw new GridhostError(
      'GH_UNSAFE_ARGUMENT',
      `path ${JSON.stringify(s)} is not safe: it must be absolute, without control characters or ".." segments`,
      { path: String(s) },
    );
  }
  return s;
}
