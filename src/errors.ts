// Error classes shared by every layer; the CLI maps them to exit codes (see src/cli/exit-codes.ts).

/** Base class of every error this project throws on purpose. */
export class NetShareError extends Error {
  override readonly name: string = 'NetShareError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The user's configuration (file, preset override or flag) is wrong. `key` is the dotted key path. */
export class ConfigError extends NetShareError {
  override readonly name = 'ConfigError';
  constructor(message: string, readonly key?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An input file is missing, unreadable or malformed. `file` names it; `offset` (bytes) or `line`
 * (1-based) say where, when known.
 */
export class InputError extends NetShareError {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly file?: string,
    readonly where?: { offset?: number; line?: number },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A broken invariant inside the project: a bug, never the user's fault. */
export class InternalError extends NetShareError {
  override readonly name = 'InternalError';
}

/** The run was cancelled (Ctrl-C, SIGTERM): the CLI exits 130. */
export class InterruptedError extends NetShareError {
  override readonly name = 'InterruptedError';
}

/** `Expected <what> for <name> but received <value>` — the wording used for every validation error. */
export function expected(what: string, name: string, value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `Expected ${what} for ${name} but received ${shown}`;
}
