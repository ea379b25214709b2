// End-to-end tests of DoppelGANger training on tiny configs: finite losses, checkpoints, resume, sampling, export.
import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../src/errors.js';
import { GENERATOR_IO, attributeSampler, calibrateEndHazards, exportGenerator, featureSamplerSessions, projectionInputs, sample, sampleAttributes, sampleFeatures, trainChunk, type TrainProgress } from '../../src/model/index.js';
import { attributeProjector } from '../../src/native/project.js';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { checkpointFiles, listCheckpoints, loadCheckpoint } from '../../src/pipeline/checkpoints.js';
import { asCheckpointVersion1, tinyConfig, tinyLayout, tinyTensors } from './synthetic.js';

const tensors = tinyTensors(200);
const root = join(import.meta.dirname, '..', '..');

describe('trainChunk (tiny config)', () => {
  it('trains with finite losses, writes checkpoints, samples flows that respect the gen flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-'));
    const seen: TrainProgress[] = [];
    const res = await trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(dir), iterations: 10, seed: 3, threads: 1, onProgress: (p) => seen.push(p) });
    expect(res.iterations).toBe(10);
    expect(seen.map((p) => p.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const p of seen) for (const v of [p.dLoss, p.gLoss, p.gp, p.wDist, p.attrDLoss!]) expect(Number.isFinite(v)).toBe(true);
    expect((await listCheckpoints(dir)).map((c) => c.iteration)).toEqual([5, 10]);
    const ck = await loadCheckpoint(res.lastCheckpoint);
    expect([...ck.tensors.keys()].some((k) => k.startsWith('adam/m/disc/'))).toBe(true);
    expect([...ck.tensors.keys()].some((k) => k.startsWith('bn:gen/attr/bn0/'))).toBe(true);

    const s = await sample({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 50, seed: 1, batchSize: 16 });
    expect(s.attributes.length).toBe(50 * 4);
    for (let i = 0; i < 50; i++) {
      const L = s.lengths[i]!;
      expect(L).toBeGreaterThanOrEqual(1);
      expect(L).toBeLessThanOrEqual(4);
      for (let t = 0; t < 4; t++) {
        expect(s.genFlags[i * 4 + t]).toBe(t < L ? 1 : 0);
        if (t >= L) for (let k = 0; k < 3; k++) expect(s.features[(i * 4 + t) * 3 + k]).toBe(0);
      }
      // discrete copy is a one-hot of the soft category
      const soft = Array.from(s.attributes.subarray(i * 4, i * 4 + 3));
      const hot = Array.from(s.attributesDiscrete.subarray(i * 4, i * 4 + 3));
      expect(hot[soft.indexOf(Math.max(...soft))]).toBe(1);
      expect(hot.reduce((a, b) => a + b, 0)).toBe(1);
    }
    // same seed, same samples
    const s2 = await sample({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 50, seed: 1, batchSize: 16 });
    expect(s2.features).toEqual(s.features);

    // the attribute generator alone gives sample()'s attribute rows for the same seed, batch and first flow (the fill
    // passes of the generate stage rely on it), and a different seed gives other rows
    for (const firstFlow of [0, 32]) {
      const full = await sample({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 37, seed: 4, batchSize: 16, firstFlow });
      const attrs = await sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 37, seed: 4, batchSize: 16, firstFlow });
      expect(attrs.n).toBe(37);
      expect(attrs.attributes).toEqual(full.attributes);
      expect(attrs.attributesDiscrete).toEqual(full.attributesDiscrete);
    }
    // the field at offset 0 (`cat`, softmax) kept soft: its softmax values where the arg-max was, every other value
    // the discrete rows' own; one array for both; an offset that is no softmax field refused
    {
      const ck = await loadCheckpoint(res.lastCheckpoint);
      const plain = await sampleAttributes({ checkpoint: ck, n: 37, seed: 4, batchSize: 16, firstFlow: 16 });
      const sampler = await attributeSampler({ checkpoint: ck, seed: 4, batchSize: 16, soft: new Set([0]) });
      try {
        const kept = await sampler.sample(37, 16);
        expect(kept.attributes.buffer).toBe(kept.attributesDiscrete.buffer);
        expect(kept.attributes.byteOffset).toBe(kept.attributesDiscrete.byteOffset);
        for (let r = 0; r < 37; r++) {
          expect(Array.from(kept.attributesDiscrete.subarray(r * 4, r * 4 + 3))).toEqual(Array.from(plain.attributes.subarray(r * 4, r * 4 + 3)));
          expect(kept.attributesDiscrete[r * 4 + 3]).toBe(plain.attributesDiscrete[r * 4 + 3]);
        }
        expect(plain.attributesDiscrete.some((v, i) => i % 4 < 3 && v !== plain.attributes[i])).toBe(true);
      } finally {
        await sampler.release();
      }
      await expect(attributeSampler({ checkpoint: ck, soft: new Set([3]) })).rejects.toThrow(/softmax attribute fields/);
    }
    const other = await sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 37, seed: 5, batchSize: 16 });
    expect(other.attributes).not.toEqual(s.attributes.subarray(0, 37 * 4));
    await expect(sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 3, batchSize: 16, firstFlow: 5 })).rejects.toThrow(/multiple of the batch size 16/);

    // conditional sampling keeps the given attributes
    const given = tensors.attributes.slice(0, 7 * 4);
    const c = await sample({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: given, seed: 2 });
    expect(c.n).toBe(7);
    expect(c.attributes).toEqual(given);

    // the features of given rows one LSTM step at a time (sampleFeatures, what the generate stage's feature jobs run)
    // are sample()'s records of the same rows, seed, batch and first flow, packed, with either stopping rule
    const rows = (await sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 37, seed: 6, batchSize: 16 })).attributesDiscrete;
    for (const stop of ['argmax', 'sample'] as const) {
      for (const firstFlow of [0, 32]) {
        const opts = { checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: rows, seed: 8, batchSize: 16, firstFlow, stop };
        const dense = await sample(opts);
        const packed = await sampleFeatures(opts);
        // with the checkpoint's sessions made once and kept by the caller (a worker's feature jobs): the same records,
        // twice over, and the sessions still usable after each call
        const sessions = await featureSamplerSessions(opts.checkpoint);
        try {
          for (let again = 0; again < 2; again++) {
            const kept = await sampleFeatures({ ...opts, sessions });
            expect(Array.from(kept.lengths)).toEqual(Array.from(packed.lengths));
            expect(Buffer.from(kept.packedFeatures.buffer).equals(Buffer.from(packed.packedFeatures.buffer))).toBe(true);
          }
          // another checkpoint object's sessions are refused
          await expect(sampleFeatures({ ...opts, checkpoint: await loadCheckpoint(res.lastCheckpoint), sessions })).rejects.toThrow(/sessions of another checkpoint/);
        } finally {
          await sessions.release();
        }
        expect(Array.from(packed.lengths)).toEqual(Array.from(dense.lengths));
        const emitted: number[] = [];
        for (let i = 0; i < 37; i++) for (let t = 0; t < dense.lengths[i]!; t++) emitted.push(...dense.features.subarray((i * 4 + t) * 3, (i * 4 + t + 1) * 3));
        expect(packed.packedFeatures.length).toBe(emitted.length);
        packed.packedFeatures.forEach((v, k) => expect(v).toBeCloseTo(emitted[k]!, 6));
      }
    }
    // a batch over STEP_ROWS (256) runs the LSTM step in runs of rows, and a caller's projection (the pipeline's native
    // one on the CPU) replaces the projection graph: the records of sample() still, up to float32 rounding
    {
      const many = (await sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 600, seed: 9, batchSize: 600 })).attributesDiscrete;
      const opts = { checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, seed: 3, batchSize: 600 };
      const dense = await sample(opts);
      const inputs = projectionInputs(opts.checkpoint);
      const sessions = await featureSamplerSessions(opts.checkpoint, { project: attributeProjector(inputs.fields, inputs.wa, inputs.bias) });
      try {
        expect(sessions.projection).toBeUndefined();
        for (const packed of [await sampleFeatures(opts), await sampleFeatures({ ...opts, sessions })]) {
          expect(Array.from(packed.lengths)).toEqual(Array.from(dense.lengths));
          const emitted: number[] = [];
          for (let i = 0; i < 600; i++) for (let t = 0; t < dense.lengths[i]!; t++) emitted.push(...dense.features.subarray((i * 4 + t) * 3, (i * 4 + t + 1) * 3));
          expect(packed.packedFeatures.length).toBe(emitted.length);
          packed.packedFeatures.forEach((v, k) => expect(v).toBeCloseTo(emitted[k]!, 5));
        }
      } finally {
        await sessions.release();
      }
    }
    // given rows whose softmax field holds soft values (the generate stage's flow-start bins) are conditioned on its
    // arg-max, ties to the first: the same records as the one-hot rows
    const soft = rows.slice();
    for (let r = 0; r < 37; r++) {
      const hot = Array.from(rows.subarray(r * 4, r * 4 + 3)).indexOf(1);
      const vals = [0.2, 0.2, 0.2];
      vals[hot] = 0.6;
      // a tie with a later value: the first is the arg-max
      if (r % 3 === 0 && hot < 2) vals[hot] = vals[2] = 0.4;
      soft.set(vals, r * 4);
    }
    for (let r = 0; r < 37; r++) {
      const cat = Array.from(soft.subarray(r * 4, r * 4 + 3));
      expect(cat.indexOf(Math.max(...cat))).toBe(Array.from(rows.subarray(r * 4, r * 4 + 3)).indexOf(1));
    }
    const opts = { checkpoint: await loadCheckpoint(res.lastCheckpoint), seed: 8, batchSize: 16, stop: 'sample' as const };
    const fromSoft = await sampleFeatures({ ...opts, givenAttributes: soft });
    const fromHot = await sampleFeatures({ ...opts, givenAttributes: rows });
    expect(Array.from(fromSoft.lengths)).toEqual(Array.from(fromHot.lengths));
    expect(Buffer.from(fromSoft.packedFeatures.buffer).equals(Buffer.from(fromHot.packedFeatures.buffer))).toBe(true);
    const lens = (await sample({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: rows, seed: 8, batchSize: 16, stop: 'sample' })).lengths;
    // the tiny model's flows have lengths of 1 to T, so both the early exit and the full run of steps are covered
    expect(new Set(lens).size).toBeGreaterThan(1);
    expect(Math.max(...lens)).toBe(4);

    // calibrated stop draws: the tiny model's lengths take the given real distribution (in expectation, and over many
    // flows drawn), the shifts come back one per record, and they are refused with the arg-max rule or the wrong count
    const many = (await sampleAttributes({ checkpoint: await loadCheckpoint(res.lastCheckpoint), n: 4000, seed: 9, batchSize: 16 })).attributesDiscrete;
    const realLengths = Uint32Array.from({ length: 1000 }, (_, i) => (i < 200 ? 1 : i < 400 ? 2 : i < 600 ? 3 : 4));
    const cal = await calibrateEndHazards({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many.subarray(0, 400 * 4), seed: 8, batchSize: 16, realLengths });
    expect(cal.bias).toHaveLength(4);
    expect(cal.target).toBeCloseTo(2.8, 10);
    expect(cal.after).toBeCloseTo(2.8, 6);
    expect(cal.realFlows).toBe(1000);
    const drawn = await sampleFeatures({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, seed: 8, batchSize: 16, stop: 'sample', endBias: cal.bias });
    const share = [1, 2, 3, 4].map((l) => drawn.lengths.filter((x) => x === l).length / 4000);
    // 4 standard errors of a share over 4,000 flows is ≤ 0.032 (the 400 calibration flows add their own error)
    [0.2, 0.2, 0.2, 0.4].forEach((p, i) => expect(Math.abs(share[i]! - p)).toBeLessThan(0.05));
    const uncalibrated = await sampleFeatures({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, seed: 8, batchSize: 16, stop: 'sample' });
    expect(Math.abs(uncalibrated.lengths.reduce((a, b) => a + b, 0) / 4000 - cal.before)).toBeLessThan(0.1);
    // (the model alone is far from that distribution: ~50/25/13/12%)
    expect(Math.max(...[0.2, 0.2, 0.2, 0.4].map((p, l) => Math.abs(uncalibrated.lengths.filter((x) => x === l + 1).length / 4000 - p)))).toBeGreaterThan(0.2);
    await expect(sampleFeatures({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, stop: 'argmax', endBias: cal.bias })).rejects.toThrow(/endBias/);
    await expect(sampleFeatures({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, stop: 'sample', endBias: [0, 0] })).rejects.toThrow(/4 finite numbers/);
    await expect(calibrateEndHazards({ checkpoint: await loadCheckpoint(res.lastCheckpoint), givenAttributes: many, realLengths: [1, 5] })).rejects.toThrow(/realLengths\[1\]/);

    // exported standalone generator exists and is an ONNX file with baked weights
    const out = join(dir, 'generator.onnx');
    const onnx = exportGenerator(await loadCheckpoint(res.lastCheckpoint));
    await writeFileAtomic(out, onnx);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out).length).toBe(onnx.length);
    const { createSession, ort } = await import('../../src/runtime/session.js');
    const sess = await createSession(readFileSync(out), { intraOpThreads: 1 });
    expect(sess.inputNames).toEqual([...GENERATOR_IO.inputs]);
    expect(sess.outputNames).toEqual([...GENERATOR_IO.outputs]);
    const m = 3;
    const z = (shape: number[]): InstanceType<typeof ort.Tensor> => new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.1), shape);
    const o = await sess.run({ z_attr: z([m, 5]), z_feat: z([m, 2, 5]), h0: z([m, 8]), c0: z([m, 8]), given_attr: z([m, 4]), use_given: new ort.Tensor('float32', new Float32Array(m), [m, 1]) });
    expect(o['features']!.dims).toEqual([m, 4, 5]);
    expect(Array.from(o['features']!.data as Float32Array).every(Number.isFinite)).toBe(true);
    await sess.release();
  });

  it('a process SIGKILLed mid-run resumes from its last checkpoint to the uninterrupted result', async () => {
    const cfg = { ...tinyConfig, checkpointEvery: 3 };
    const a = mkdtempSync(join(tmpdir(), 'dg-a-'));
    const full = await trainChunk({ tensors, layout: tinyLayout, config: cfg, checkpoints: checkpointFiles(a), iterations: 7, seed: 9, threads: 1 });
    const b = mkdtempSync(join(tmpdir(), 'dg-kill-'));
    const child = spawn(process.execPath, [join(root, 'node_modules', 'vite-node', 'vite-node.mjs'), join(import.meta.dirname, 'train-child.ts'), b, '5'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('hanging')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`child exited before hanging: ${out}`)));
    });
    await new Promise((r) => child.on('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    expect((await listCheckpoints(b)).map((c) => c.iteration)).toEqual([3]);
    const resumed = await trainChunk({ tensors, layout: tinyLayout, config: cfg, checkpoints: checkpointFiles(b), iterations: 7, seed: 9, threads: 1, resumeFrom: 'latest' });
    const x = await loadCheckpoint(full.lastCheckpoint);
    const y = await loadCheckpoint(resumed.lastCheckpoint);
    // resuming a finished run does nothing and reports its last checkpoint
    const again = await trainChunk({ tensors, layout: tinyLayout, config: cfg, checkpoints: checkpointFiles(b), iterations: 7, seed: 9, threads: 1, resumeFrom: 'latest' });
    expect(again).toMatchObject({ iterations: 7, lastCheckpoint: resumed.lastCheckpoint });
    for (const [k, t] of x.tensors) expect(Buffer.from(y.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
  });

  it('initFrom restores every tensor of another chunk\'s checkpoint and restarts the iteration count', async () => {
    const a = mkdtempSync(join(tmpdir(), 'dg-src-'));
    const src = await trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(a), iterations: 5, seed: 3, threads: 1 });
    const b = mkdtempSync(join(tmpdir(), 'dg-ft-'));
    const other = tinyTensors(50, 7);
    const start = await trainChunk({ tensors: other, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(b), iterations: 5, seed: 4, threads: 1, initFrom: src.lastCheckpoint, initialOnly: true });
    const x = await loadCheckpoint(src.lastCheckpoint);
    const y = await loadCheckpoint(start.lastCheckpoint);
    expect(y.iteration).toBe(0);
    for (const [k, t] of x.tensors) expect(y.tensors.get(k)!.data, k).toEqual(t.data);
    const ft = await trainChunk({ tensors: other, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(b), iterations: 5, seed: 4, threads: 1, initFrom: src.lastCheckpoint });
    expect(ft.iterations).toBe(5);
    // a layout mismatch is refused
    const wide = { ...tinyLayout, maxLen: 6 };
    const t6 = { n: 1, attributes: new Float32Array(4), features: new Float32Array(18), genFlag: new Float32Array(6) };
    await expect(trainChunk({ tensors: t6, layout: wide, config: tinyConfig, checkpoints: checkpointFiles(b), iterations: 5, initFrom: src.lastCheckpoint })).rejects.toThrow(/different field layout/);
  });

  it('a version 1 checkpoint (before the named random streams) initialises a run or ends a finished one, but cannot resume', async () => {
    const a = mkdtempSync(join(tmpdir(), 'dg-v1-'));
    const src = await trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(a), iterations: 5, seed: 3, threads: 1 });
    const b = mkdtempSync(join(tmpdir(), 'dg-v1-'));
    const old = join(b, 'ckpt-000000005.nsckpt');
    writeFileSync(old, asCheckpointVersion1(readFileSync(src.lastCheckpoint)));
    const resume = trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(b), iterations: 10, seed: 3, threads: 1, resumeFrom: 'latest' });
    await expect(resume).rejects.toThrow(InputError);
    await expect(resume).rejects.toThrow(/format 1.*cannot resume/);
    const done = await trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(b), iterations: 5, seed: 3, threads: 1, resumeFrom: 'latest' });
    expect(done.lastCheckpoint).toBe(old);
    const c = mkdtempSync(join(tmpdir(), 'dg-v1-'));
    const start = await trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(c), iterations: 5, seed: 4, threads: 1, initFrom: old, initialOnly: true });
    const x = await loadCheckpoint(src.lastCheckpoint);
    const y = await loadCheckpoint(start.lastCheckpoint);
    for (const [k, t] of x.tensors) expect(y.tensors.get(k)!.data, k).toEqual(t.data);
    expect(y.rng.map((r) => r.purpose).sort()).toEqual(['train/batches', 'train/gp-alpha', 'train/noise/lstm-state', 'train/noise/z']);
  });

  it('device cuda without a CUDA provider is a clear error, never a CPU fallback', async () => {
    const { ort } = await import('../../src/runtime/session.js');
    if (ort.listSupportedBackends().some((b) => b.name === 'cuda')) return; // a GPU build: nothing to check here
    await expect(trainChunk({ tensors, layout: tinyLayout, config: tinyConfig, checkpoints: checkpointFiles(tmpdir()), iterations: 10, device: 'cuda' })).rejects.toThrow(/CUDA/);
  });

  it('rejects a checkpoint period above the iterations, naming the key', async () => {
    await expect(trainChunk({ tensors, layout: tinyLayout, config: { ...tinyConfig, checkpointEvery: 50 }, checkpoints: checkpointFiles(tmpdir()), iterations: 10 }))
      .rejects.toThrow(ConfigError);
    await expect(trainChunk({ tensors, layout: tinyLayout, config: { ...tinyConfig, checkpointEvery: 50 }, checkpoints: checkpointFiles(tmpdir()), iterations: 10 }))
      .rejects.toThrow(/model\.checkpointEvery/);
  });
});
