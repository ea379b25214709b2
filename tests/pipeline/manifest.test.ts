// Workdir manifest: stages are skipped when done with the same fingerprint, rerun otherwise, failures recorded.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
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
  it('a stage run for another fingerprint removes its outputs and every later stage; a resume keeps them', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-manifest-'));
    const mark = (rel: string) => {
      mkdirSync(dirname(join(wd, rel)), { recursive: true });
      writeFileSync(join(wd, rel), 'x');
    };
    await runStage(wd, 'train', 't1', async () => mark('train/chunk-0/result.json'));
    await runStage(wd, 'generate', 'g1', async () => mark('generate/chunk-0/p0.nstable'));
    await runStage(wd, 'postprocess', 'p1', async () => mark('synthetic.pcap'));
    // same fingerprint after a failure: the partial outputs stay (training resumes from its checkpoints)
    await expect(runStage(wd, 'train', 't2', async () => { mark('train/chunk-0/checkpoints/ckpt-1'); throw new Error('killed'); })).rejects.toThrow();
    expect(existsSync(join(wd, 'train/chunk-0/result.json'))).toBe(false); // t1's outputs went when t2 began
    expect(existsSync(join(wd, 'generate'))).toBe(false);
    expect(existsSync(join(wd, 'synthetic.pcap'))).toBe(false);
    let sawCheckpoint = false;
    await runStage(wd, 'train', 't2', async () => { sawCheckpoint = existsSync(join(wd, 'train/chunk-0/checkpoints/ckpt-1')); });
    expect(sawCheckpoint).toBe(true);
    expect(Object.keys((await loadManifest(wd)).stages)).toEqual(['train']);
  });
  it('a stage that fails before it begins leaves the manifest as it was', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-manifest-'));
    await runStage(wd, 'preprocess', 'a', async () => 1);
    const before = await loadManifest(wd);
    const checks = async (begin: () => Promise<void>) => {
      throw new ConfigError('bad data', 'preprocess.nChunks');
      await begin();
    };
    await expect(runStage(wd, 'preprocess', 'b', checks, { deferBegin: true })).rejects.toThrow(ConfigError);
    expect((await loadManifest(wd)).stages).toEqual(before.stages);
    await expect(runStage(wd, 'preprocess', 'b', async () => 2, { deferBegin: true })).rejects.toThrow(/without calling begin/);
  });
  it('fingerprints are independent of key order', () => {
    expect(fingerprint({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(fingerprint({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
