// CLI plumbing: exit codes and the --json error summary.
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { ConfigError, InputError, InternalError, NetShareError } from '../src/errors.js';
import { EXIT, exitCodeFor } from '../src/cli/exit-codes.js';

describe('exit codes', () => {
  it('maps error classes to documented codes', () => {
    expect(exitCodeFor(new ConfigError('x'))).toBe(EXIT.USAGE);
    expect(exitCodeFor(new InputError('x', 'f'))).toBe(EXIT.INPUT);
    expect(exitCodeFor(new InternalError('x'))).toBe(EXIT.INTERNAL);
    expect(exitCodeFor(new NetShareError('x'))).toBe(EXIT.FAILED);
    expect(exitCodeFor(new Error('x'))).toBe(EXIT.INTERNAL);
  });
  it('rejects an unknown command with the usage code', async () => {
    const code = await main(['no-such-command']);
    expect(code).toBe(EXIT.USAGE);
  });
});
