// Tests of the model's non-graph pieces: config validation, gen flags, stopping rule, checkpoints.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, InputError } from '../../src/errors.js';
import { parseModelConfig, presetModelConfig } from '../../src/model/config.js';
import { validateLayout, validateTensors, withGenFlag, type ModelLayout } from '../../src/model/layout.js';
import { applyStoppingRule, discreteCopy, sampleStoppingRule, stopMask } from '../../src/model/postprocess.js';
import { CHECKPOINT_VERSION, decodeCheckpoint, encodeCheckpoint } from '../../src/model/checkpoint.js';
import { latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../src/pipeline/checkpoints.js';
import { asCheckpointVersion1 } from './synthetic.js';

describe('model config', () => {
  it('fills NetShare camera-ready defaults', () => {
    const c = parseModelConfig({});
    expect(c).toMatchObject({
      attributeNoiseDim: 5, featureNoiseDim: 5, attrGenLayers: 4, attrGenUnits: 512, lstmUnits: 100,
      discLayers: 4, discUnits: 512, attrDiscLayers: 4, attrDiscUnits: 512, gpCoe: 10, attrGpCoe: 10,
      gAttrDCoe: 1, gLr: 1e-4, dLr: 1e-4, attrDLr: 1e-4, beta1: 0.5, beta2: 0.999, dRounds: 5, gRounds: 1, batchSize: 100,
    });
    expect(presetModelConfig('pcap').iterations).toBe(80000);
    expect(presetModelConfig('netflow').iterations).toBe(200000);
  });
  it('rejects a checkpoint period longer than the run (NetShare issue #18), naming the key', () => {
    expect(() => parseModelConfig({ iterations: 10, checkpointEvery: 11 })).toThrow(ConfigError);
    try {
      parseModelConfig({ iterations: 10, checkpointEvery: 11 });
    } catch (e) {
      expect((e as ConfigError).key).toBe('model.checkpointEvery');
      expect((e as Error).message).toMatch(/model\.iterations \(10\).*received 11/);
    }
    expect(parseModelConfig({ iterations: 10, checkpointEvery: 10 }).checkpointEvery).toBe(10);
  });
  it('names the key of a bad value or unknown key', () => {
    expect(() => parseModelConfig({ batchSize: 0 })).toThrow(/model\.batchSize/);
    expect(() => parseModelConfig({ batchSise: 3 })).toThrow(/model\.batchSise/);
    expect(() => parseModelConfig({ gLr: 'fast' })).toThrow(/model\.gLr.*"fast"/);
  });
});

const layout: ModelLayout = {
  attributes: [
    { name: 'a', offset: 0, dim: 3, activation: 'softmax' },
    { name: 'b', offset: 3, dim: 1, activation: 'sigmoid' },
  ],
  features: [{ name: 'x', offset: 0, dim: 1, activation: 'sigmoid' }],
  maxLen: 6,
};

describe('layout and gen flags', () => {
  it('validates tiling and maxLen', () => {
    expect(() => validateLayout(layout, 3)).not.toThrow();
    expect(() => validateLayout(layout, 4)).toThrow(/maxLen/);
    const bad = { ...layout, features: [{ name: 'x', offset: 1, dim: 1, activation: 'sigmoid' as const }] };
    expect(() => validateLayout(bad, 3)).toThrow(/features\[0\]\.offset/);
  });
  it('tensors that do not match the layout are an InputError', () => {
    const ok = { n: 2, attributes: new Float32Array(8), features: new Float32Array(12), genFlag: new Float32Array(12) };
    expect(() => validateTensors(ok, layout)).not.toThrow();
    expect(() => validateTensors({ ...ok, features: new Float32Array(11) }, layout, 'chunk-0')).toThrow(InputError);
    expect(() => validateTensors({ ...ok, n: 0 }, layout)).toThrow(/at least one flow/);
  });
  it('add_gen_flag gives [1,0] continue, [0,1] last and padding in the last group, [0,0] after', () => {
    // one flow of length 2 with sampleLen 3 and T 6
    const t = { n: 1, attributes: new Float32Array(4), features: Float32Array.from([1, 2, 0, 0, 0, 0]), genFlag: Float32Array.from([1, 1, 0, 0, 0, 0]) };
    const f = withGenFlag(t, layout, 3);
    const rows = Array.from({ length: 6 }, (_, s) => Array.from(f.subarray(s * 3, s * 3 + 3)));
    expect(rows).toEqual([[1, 1, 0], [2, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]);
  });
  it('real data encoded with add_gen_flag decodes to its own length under the stopping rule', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), (len) => {
      const g = new Float32Array(6);
      for (let i = 0; i < len; i++) g[i] = 1;
      const t = { n: 1, attributes: new Float32Array(4), features: new Float32Array(6).fill(0.5), genFlag: g };
      const s = applyStoppingRule(withGenFlag(t, layout, 3), 1, 6, 1);
      return s.lengths[0] === len && Array.from(s.genFlags).every((v, i) => v === (i < len ? 1 : 0));
    }));
  });
});

describe('stopping rule', () => {
  it('stops after the first end flag (inclusive) and zeroes everything after', () => {
    // records: [x, cont, end]
    const raw = Float32Array.from([
      0.1, 0.9, 0.1, /* cont */ 0.2, 0.3, 0.7, /* end */ 0.3, 0.9, 0.1, /* after end: zeroed */
      0.4, 0.6, 0.4, 0.5, 0.6, 0.4, 0.6, 0.6, 0.4, // never ends
    ]);
    const s = applyStoppingRule(raw, 2, 3, 1);
    expect(Array.from(s.lengths)).toEqual([2, 3]);
    expect(Array.from(s.genFlags)).toEqual([1, 1, 0, 1, 1, 1]);
    expect(Array.from(s.features)).toEqual([0.1, 0.2, 0, 0.4, 0.5, 0.6].map((v) => Math.fround(v)));
    expect(stopMask(raw, 2, 3, 1)).toEqual(s.genFlags);
  });
  it('sampled: a record ends the flow when its draw is under the flag\'s share of "end"', () => {
    const raw = Float32Array.from([0.1, 0.9, 0.1, 0.2, 0.3, 0.7, 0.3, 0.9, 0.1, 0.4, 0.6, 0.4, 0.5, 0.6, 0.4, 0.6, 0.6, 0.4]);
    // draws above every "end" share: no flow ends before T; under them: each ends at its first record
    expect(Array.from(sampleStoppingRule(raw, 2, 3, 1, () => 0.99).lengths)).toEqual([3, 3]);
    const first = sampleStoppingRule(raw, 2, 3, 1, () => 0.05);
    expect(Array.from(first.lengths)).toEqual([1, 1]);
    expect(Array.from(first.genFlags)).toEqual([1, 0, 0, 1, 0, 0]);
    expect(Array.from(first.features)).toEqual([0.1, 0, 0, 0.4, 0, 0].map((v) => Math.fround(v)));
    // a 0.25 share of "end" at every record: lengths are geometric (mean 4 before the cut at T = 40)
    const n = 4000;
    const T = 40;
    const r = new Float32Array(n * T * 3);
    for (let i = 0; i < n * T; i++) r.set([0.5, 0.75, 0.25], i * 3);
    let x = 12345;
    const u = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const lens = sampleStoppingRule(r, n, T, 1, u).lengths;
    const mean = lens.reduce((a, b) => a + b, 0) / n;
    expect(mean).toBeGreaterThan(3.7);
    expect(mean).toBeLessThan(4.3);
  });
  it('discrete copy: one-hot argmax for softmax heads, raw for continuous', () => {
    const a = Float32Array.from([0.2, 0.5, 0.3, 0.77, 0.6, 0.1, 0.3, 0.12]);
    expect(Array.from(discreteCopy(a, layout.attributes))).toEqual([0, 1, 0, Math.fround(0.77), 1, 0, 0, Math.fround(0.12)]);
  });
});

describe('checkpoints', () => {
  const ck = {
    iteration: 12,
    rng: [
      { seed: 5, purpose: 'train/batches', words: [1, 2, 3, 4] as [number, number, number, number] },
      { seed: 5, purpose: 'train/noise/z', words: [5, 6, 7, 8] as [number, number, number, number] },
    ],
    meta: { seed: 5 },
    tensors: new Map([
      ['param:w', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['state:adam/m/w', { shape: [1], data: Float32Array.from([0.25]) }],
    ]),
  };
  it('round-trips and keeps the newest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    for (const it of [4, 8, 12]) await saveCheckpoint(dir, { ...ck, iteration: it }, 2);
    expect((await listCheckpoints(dir)).map((c) => c.iteration)).toEqual([8, 12]);
    expect(readdirSync(dir).some((n) => n.includes('.tmp'))).toBe(false);
    const back = await loadCheckpoint((await latestCheckpoint(dir))!);
    expect(back.iteration).toBe(12);
    expect(back.rng).toEqual(ck.rng);
    expect(back.tensors.get('param:w')!.data).toEqual(ck.tensors.get('param:w')!.data);
  });
  it('a damaged or truncated file is an InputError naming the file', () => {
    const buf = encodeCheckpoint(ck);
    expect(() => decodeCheckpoint(buf.subarray(0, buf.length - 3), 'x.nsckpt')).toThrow(InputError);
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 1] ^= 0xff;
    expect(() => decodeCheckpoint(flipped, 'x.nsckpt')).toThrow(/checksum/);
    expect(() => decodeCheckpoint(Buffer.from('hello world, not a checkpoint'), 'x.nsckpt')).toThrow(/magic/);
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    writeFileSync(join(dir, 'ckpt-000000001.nsckpt'), buf.subarray(0, 20));
    return expect(loadCheckpoint(join(dir, 'ckpt-000000001.nsckpt'))).rejects.toMatchObject({ name: 'InputError', file: join(dir, 'ckpt-000000001.nsckpt') });
  });
  it('reads a version 1 file (one state of the old generator) with its weights and no stream states', () => {
    const buf = encodeCheckpoint(ck);
    expect(JSON.parse(buf.subarray(12, 12 + buf.readUInt32LE(8)).toString('utf8')).version).toBe(CHECKPOINT_VERSION);
    const v1 = asCheckpointVersion1(buf);
    const back = decodeCheckpoint(v1, 'old.nsckpt');
    expect(back.rng).toEqual([]);
    expect(back.iteration).toBe(12);
    expect(back.tensors.get('state:adam/m/w')!.data).toEqual(Float32Array.from([0.25]));
    const v3 = Buffer.from(v1.toString('latin1').replace('"version":1', '"version":3'), 'latin1');
    expect(() => decodeCheckpoint(v3, 'new.nsckpt')).toThrow(/version 1 or 2/);
  });
  it('encoding is deterministic', () => {
    expect(encodeCheckpoint(ck).equals(encodeCheckpoint(ck))).toBe(true);
  });
});
