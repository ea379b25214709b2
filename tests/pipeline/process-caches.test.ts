// A worker process keeps the decode policies' files (port range, training 5-tuples), the port vocabulary's pruned
// scorer, the encoders and the feature sampler's sessions between jobs. The files are keyed by what a rewrite changes,
// so a later run's generate stage (which writes them anew) is never handed the previous run's policy or model.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodersOf, fileIdentity, holdFeatureSessions } from '../../src/pipeline/generate.js';
import { checkpointFiles } from '../../src/pipeline/checkpoints.js';
import { trainChunk } from '../../src/model/index.js';
import { tinyConfig, tinyLayout, tinyTensors } from '../model/synthetic.js';
import { preprocessedTiny } from './tiny-workdir.js';

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

describe('per-process encoders and feature sessions', () => {
  it('are read once per file identity: the same objects for an untouched file, read anew after a rewrite', async () => {
    const { wd } = await preprocessedTiny(60, 'ns-caches-enc-');
    const a = await encodersOf(wd);
    expect(await encodersOf(wd)).toBe(a);
    const f = join(wd, 'preprocess', 'encoders.json');
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(f, readFileSync(f));
    const b = await encodersOf(wd);
    expect(b).not.toBe(a);
    expect(JSON.stringify(b.ports?.values)).toBe(JSON.stringify(a.ports?.values));

    // a checkpoint's sessions: kept between holds; a checkpoint file rewritten (another iteration's bytes) is read anew
    const ckDir = join(dir, 'ckpts');
    const res = await trainChunk({ tensors: tinyTensors(60), layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(ckDir), iterations: 10, seed: 3, threads: 1 });
    // two jobs asking at once share one entry
    const [h1, h1b] = await Promise.all([holdFeatureSessions(res.lastCheckpoint, 'cpu', 1), holdFeatureSessions(res.lastCheckpoint, 'cpu', 1)]);
    expect(h1b.sessions).toBe(h1.sessions);
    h1.done();
    h1b.done();
    const h2 = await holdFeatureSessions(res.lastCheckpoint, 'cpu', 1);
    expect(h2.sessions).toBe(h1.sessions);
    expect(h2.sessions.checkpoint.iteration).toBe(10);
    h2.done();
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(res.lastCheckpoint, readFileSync(join(ckDir, 'ckpt-000000005.nsckpt')));
    const h3 = await holdFeatureSessions(res.lastCheckpoint, 'cpu', 1);
    expect(h3.sessions).not.toBe(h1.sessions);
    expect(h3.sessions.checkpoint.iteration).toBe(5);
    h3.done();
  }, 60_000);
});
