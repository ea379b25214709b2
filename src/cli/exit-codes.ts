// Documented exit codes of every `netshare` command (also listed in README.md).
import { ConfigError, InputError, InternalError, InterruptedError, NetShareError } from '../errors.js';

export const EXIT = {
  OK: 0,
  /** Unexpected failure (a bug): reported with a stack trace. */
  INTERNAL: 1,
  /** Bad command line or configuration. */
  USAGE: 2,
  /** Bad, missing or unreadable input file. */
  INPUT: 3,
  /** Other NetShare failure (e.g. a runtime / execution-provider error, an output that could not be written). */
  FAILED: 4,
  /** Interrupted by SIGINT/SIGTERM. */
  INTERRUPTED: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof InterruptedError) return EXIT.INTERRUPTED;
  if (err instanceof ConfigError) return EXIT.USAGE;
  if (err instanceof InputError) return EXIT.INPUT;
  if (err instanceof InternalError) return EXIT.INTERNAL;
  if (err instanceof NetShareError) return EXIT.FAILED;
  return EXIT.INTERNAL;
}
