// No stale answers from a reused workdir: a stage whose upstream changed (other input bytes, other config, other
// model code) removes its own and every later stage's outputs and runs again; a failed invocation leaves what was
// finished as it was.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { trainStageFingerprint, type TrainChunkResult } from '../../src/pipeline/train.js';
import { configPath, syntheticPath, trainResultPath } from '../../src/pipeline/workdir.js';
import { writePcap } from '../../src/native/writer.js';
import { ConfigError, InputError } from '../../src/errors.js';
import type { PacketTable } from '../../src/io/table.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

let dir: string;
let traceA: PacketTable;
let traceB: PacketTable;
const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1, iterations: 4, checkpointEvery: 2 }) });
const executor = new InProcessExecutor(1);
const quiet = { downstream: false, privacy: false, executor };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ns-stale-'));
  traceA = syntheticPackets(40, 2);
  // B: other flows (other ports and sizes), same shape of trace
  traceB = syntheticPackets(50, 2);
  for (let i = 0; i < traceB.length; i++) {
    traceB.srcPort[i] = traceB.srcPort[i]! + 1000;
    traceB.pktLen[i] = Math.min(1500, traceB.pktLen[i]! + 200);
  }
});

function lastCheckpointBytes(wd: string): { result: TrainChunkResult; bytes: Buffer } {
  const result = JSON.parse(readFileSync(trainResultPath(wd, 0), 'utf8')) as TrainChunkResult;
  return { result, bytes: readFileSync(join(wd, result.lastCheckpoint)) };
}

describe('a workdir whose input changes between runs', () => {
  it('retrains on the new input: the model differs from the first and equals one trained on the new input alone', async () => {
    const input = join(dir, 'in.pcap');
    const wd = join(dir, 'wd-reused');
    await writePcap(input, traceA);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    const a = lastCheckpointBytes(wd);

    // the same path, new contents
    await writePcap(input, traceB);
    const r = await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    expect(r.stages.map((s) => [s.name, s.skipped])).toEqual([['preprocess', false], ['train', false]]);
    const b = lastCheckpointBytes(wd);
    expect(b.bytes.equals(a.bytes)).toBe(false);
    const m = await loadManifest(wd);
    expect(b.result.fp).not.toBe(a.result.fp);
    expect(m.stages.train!.fingerprint).toBe(trainStageFingerprint(m.stages.preprocess!.fingerprint, cfg));

    // trained on B: byte for byte what a fresh workdir makes from B
    const inputB = join(dir, 'b.pcap');
    await writePcap(inputB, traceB);
    const wdB = join(dir, 'wd-fresh-b');
    await runPipeline({ input: inputB, workdir: wdB, config: cfg, to: 'train', ...quiet });
    const fresh = lastCheckpointBytes(wdB);
    expect(b.bytes.equals(fresh.bytes)).toBe(true);
    expect((await loadManifest(wdB)).stages.preprocess!.fingerprint).toBe(m.stages.preprocess!.fingerprint);
  }, 120_000);

  it('a retrain removes the synthetic trace, selection and report made from the old model', async () => {
    const input = join(dir, 'in2.pcap');
    const wd = join(dir, 'wd-stale-output');
    await writePcap(input, traceA);
    await runPipeline({ input, workdir: wd, config: cfg, ...quiet });
    const out = syntheticPath(wd, 'pcap');
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(wd, 'report.html'))).toBe(true);
    const oldOut = readFileSync(out);

    await writePcap(input, traceB);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    const m = await loadManifest(wd);
    expect(Object.keys(m.stages).sort()).toEqual(['preprocess', 'train']);
    for (const gone of [out, join(wd, 'generate'), join(wd, 'postprocess'), join(wd, 'report.html'), join(wd, 'metrics.json')]) {
      expect(existsSync(gone), gone).toBe(false);
    }
    // generate then makes the trace from the new model
    await runPipeline({ input, workdir: wd, from: 'generate', ...quiet });
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out).equals(oldOut)).toBe(false);
  }, 120_000);

  it('generate on a trained workdir refuses an input that is not the one it was trained on', async () => {
    const input = join(dir, 'in3.pcap');
    const wd = join(dir, 'wd-generate-changed');
    await writePcap(input, traceA);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    await writePcap(input, traceB);
    const err = await runPipeline({ input, workdir: wd, from: 'generate', ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/not the trace this workdir was trained on/);
    expect((await loadManifest(wd)).stages.generate).toBeUndefined();
  }, 120_000);

  it('an invocation that fails its data checks keeps the finished stages and config.json as they were', async () => {
    const input = join(dir, 'in4.pcap');
    const wd = join(dir, 'wd-failed-check');
    await writePcap(input, traceA);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    const before = await loadManifest(wd);
    const savedConfig = readFileSync(configPath(wd), 'utf8');
    const ckpt = lastCheckpointBytes(wd).bytes;
    // 500 chunks of a 2-second trace: most time slices are empty, refused right after chunking
    const bad = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 500, iterations: 4, checkpointEvery: 2 }) });
    const err = await runPipeline({ input, workdir: wd, config: bad, to: 'train', ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const after = await loadManifest(wd);
    expect(after.stages).toEqual(before.stages);
    expect(readFileSync(configPath(wd), 'utf8')).toBe(savedConfig);
    expect(lastCheckpointBytes(wd).bytes.equals(ckpt)).toBe(true);
    // and the next run with the old config has nothing to redo
    const again = await runPipeline({ input, workdir: wd, config: cfg, to: 'train', ...quiet });
    expect(again.stages.map((s) => s.skipped)).toEqual([true, true]);
  }, 120_000);
});

describe('an input file edited in place', () => {
  it('is hashed again even when the manifest has a hash for its path', async () => {
    const input = join(dir, 'in5.pcap');
    const wd = join(dir, 'wd-edited');
    await writePcap(input, traceA);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', ...quiet });
    const first = (await loadManifest(wd)).inputs[0]!.sha256;
    // same size, one byte different (a packet's IP id): only the hash can tell
    const bytes = readFileSync(input);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0xff;
    writeFileSync(input, bytes);
    const r = await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', ...quiet });
    expect(r.stages[0]!.skipped).toBe(false);
    expect((await loadManifest(wd)).inputs[0]!.sha256).not.toBe(first);
  }, 60_000);
});
