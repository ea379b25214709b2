// A worker process keeps the decode policies' files (port range, training 5-tuples) and the port vocabulary's pruned
// scorer between jobs. The files are keyed by what a rewrite changes, so a later run's generate stage (which writes
// them anew) is never handed the previous run's policy.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileIdentity } from '../../src/pipeline/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-caches-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fileIdentity', () => {
  it('changes when a file is rewritten, even with the same size; stays for an untouched file', async () => {
    const f = join(dir, 'port-range.json');
    writeFileSync(f, '{"servicePorts":[1],"bins":[1]}');
    const a = fileIdentity(f);
    expect(fileIdentity(f)).toBe(a);
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(f, '{"servicePorts":[2],"bins":[1]}');
    expect(fileIdentity(f)).not.toBe(a);
    // a missing file keys by its path (its read then fails with its own error)
    expect(fileIdentity(join(dir, 'missing.json'))).toBe(join(dir, 'missing.json'));
  });
});
