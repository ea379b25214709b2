// The train stage's job plan (chunk 0 first, the rest fine-tuned for a quarter) and the train-chunk job's contract:
// idempotent on its own result, a clear error when chunk 0's checkpoint is missing (NetShare issue #18).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../src/config/schema.js';
import { NetShareError } from '../../src/errors.js';
import { trainChunkJob, trainJobs, trainParamsFingerprint, type TrainChunkParams } from '../../src/pipeline/train.js';
import { trainResultPath } from '../../src/pipeline/workdir.js';

const ctxFor = (workdir: string) => ({ workdir, threads: 1, progress: () => {} });

describe('trainJobs', () => {
  it('trains chunk 0 first, then fine-tunes the others from it for a quarter of the iterations', () => {
    const cfg = presetConfig('pcap', { model: { iterations: 400, checkpointEvery: 100 } });
    const { first, rest } = trainJobs('/wd', 'wdid', cfg, [0, 1, 2], 'cpu', 'up');
    expect(first.map((j) => j.id)).toEqual(['train/chunk-0']);
    expect(rest.map((j) => j.id)).toEqual(['train/chunk-1', 'train/chunk-2']);
    const p0 = first[0]!.params as unknown as TrainChunkParams;
    const p1 = rest[0]!.params as unknown as TrainChunkParams;
    expect(p0.iterations).toBe(400);
    expect(p0.initFrom).toBeUndefined();
    expect(p1.iterations).toBe(100);
    expect(p1.model.checkpointEvery).toBe(25);
    expect(p1.initFrom).toBeDefined();
    // keys scoped to the workdir identity and params; no absolute path in the params
    expect(first[0]!.scope).toBe('wdid');
    expect(JSON.stringify([...first, ...rest].map((j) => j.params))).not.toContain('/wd');
    expect(p0.seed).not.toBe(p1.seed);
  });
  it('trains every chunk from scratch in DP mode or when fine-tuning is off', () => {
    const cfg = presetConfig('pcap', { train: { fineTuneFromChunk0: false } });
    const { first, rest } = trainJobs('/wd', 'wdid', cfg, [0, 1], 'cpu', 'up');
    expect(first).toHaveLength(2);
    expect(rest).toHaveLength(0);
    expect(first.every((j) => (j.params as unknown as TrainChunkParams).iterations === cfg.model.iterations)).toBe(true);
  });
});

describe('trainChunkJob', () => {
  const cfg = presetConfig('pcap', { model: { iterations: 8, checkpointEvery: 4 } });
  it('fails clearly when the checkpoint to fine-tune from is missing (NetShare issue #18)', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-train-'));
    const ctx = ctxFor(wd);
    const p: TrainChunkParams = { upstream: 'up', chunk: 1, model: cfg.model, iterations: 2, seed: 1, device: 'cpu', initFrom: 'train/chunk-0/checkpoints/ckpt-000000008.nsckpt' };
    await expect(trainChunkJob(p, ctx)).rejects.toThrow(NetShareError);
    await expect(trainChunkJob(p, ctx)).rejects.toThrow(/issue #18.*train chunk 0 first/);
  });
  it('returns its finished result only for the same params and the same upstream', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-train-'));
    const ctx = ctxFor(wd);
    const p: TrainChunkParams = { upstream: 'preprocess-A', chunk: 0, model: cfg.model, iterations: 8, seed: 1, device: 'cpu' };
    const ck = join(wd, 'train', 'chunk-0', 'checkpoints', 'ckpt-000000008.nsckpt');
    mkdirSync(join(wd, 'train', 'chunk-0', 'checkpoints'), { recursive: true });
    writeFileSync(ck, 'x');
    const rel = 'train/chunk-0/checkpoints/ckpt-000000008.nsckpt';
    const done = { fp: trainParamsFingerprint(p), chunk: 0, iterations: 8, lastCheckpoint: rel, checkpoints: [{ iteration: 8, path: rel }], seconds: 1, final: null };
    writeFileSync(trainResultPath(wd, 0), JSON.stringify(done));
    // no preprocess files exist, so any attempt to train would throw
    await expect(trainChunkJob(p, ctx)).resolves.toEqual(done);
    // other params: the old result does not count (and training needs the preprocess files)
    await expect(trainChunkJob({ ...p, iterations: 9 }, ctx)).rejects.toThrow(/preprocess/);
    // re-preprocessed data (another upstream fingerprint): the old model is removed, never returned
    mkdirSync(join(wd, 'train', 'chunk-0', 'checkpoints'), { recursive: true });
    writeFileSync(ck, 'x');
    writeFileSync(trainResultPath(wd, 0), JSON.stringify(done));
    await expect(trainChunkJob(p, ctx)).resolves.toEqual(done);
    await expect(trainChunkJob({ ...p, upstream: 'preprocess-B' }, ctx)).rejects.toThrow(/preprocess/);
    expect(existsSync(ck)).toBe(false);
  });
});
