// Workdir manifest: stages are skipped when done with the same fingerprint, rerun otherwise, failures recorded.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, runStage } from '../../src/pipeline/manifest.js';
import { fingerprint } from '../../src/pipeline/fsutil.js';

describe('runStage', () => {
  it('skips a finished stage with the same fingerprint and reruns on change', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-manifest-'));
    let calls = 0;
    const fn = async () => ({ n: ++calls });
    const a = await runStage(wd, 'preprocess', 'fp1', fn);
    const b = await runStage(wd, 'preprocess', 'fp1', fn);
    const c = await runStage(wd, 'preprocess', 'fp2', fn);
    expect([a.skipped, b.skipped, c.skipped]).toEqual([false, true, false]);
    expect(b.outcome).toEqual({ n: 1 });
    expect(calls).toBe(2);
    const m = await loadManifest(wd);
    expect(m.stages.preprocess).toMatchObject({ status: 'done', fingerprint: 'fp2' });
  });
  it('records a failed stage and runs it again next time', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-manifest-'));
    await expect(runStage(wd, 'train', 'x', async () => Promise.reject(new Error('kaput')))).rejects.toThrow('kaput');
    expect((await loadManifest(wd)).stages.train).toMatchObject({ status: 'failed', error: 'Error: kaput' });
    const r = await runStage(wd, 'train', 'x', async () => 42);
    expect(r).toMatchObject({ skipped: false, outcome: 42 });
  });
  it('fingerprints are independent of key order', () => {
    expect(fingerprint({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(fingerprint({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
