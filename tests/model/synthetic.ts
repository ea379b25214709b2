// Tiny synthetic layouts and chunk tensors for the model tests.
import type { ChunkTensors, ModelLayout } from '../../src/model/layout.js';
import { Rng } from '../../src/core/rng.js';
import { evaluate } from '../../src/graph/interpreter.js';
import type { CompiledStep } from '../../src/graph/optim.js';
import { Tensor } from '../../src/graph/tensor.js';

/** Attributes: a 3-way category and a [0,1] value; features: a [0,1] value and a 2-way category; T = 4. */
export const tinyLayout: ModelLayout = {
  attributes: [
    { name: 'cat', offset: 0, dim: 3, activation: 'softmax' },
    { name: 'val', offset: 3, dim: 1, activation: 'sigmoid' },
  ],
  features: [
    { name: 'x', offset: 0, dim: 1, activation: 'sigmoid' },
    { name: 'kind', offset: 1, dim: 2, activation: 'softmax' },
  ],
  maxLen: 4,
};

export const tinyConfig = {
  attrGenUnits: 16, attrGenLayers: 2, lstmUnits: 8, discUnits: 16, discLayers: 2, attrDiscUnits: 16, attrDiscLayers: 2,
  sampleLen: 2, batchSize: 16, iterations: 10, checkpointEvery: 5, dRounds: 2,
};

/**
 * n flows: category c ∈ {0,1,2} with probabilities .6/.3/.1; val = 0.2 + 0.3·c; length 1 + c (so
 * category predicts length); x = val ± noise; kind = c mod 2.
 */
export function tinyTensors(n: number, seed = 1): ChunkTensors {
  const r = new Rng(seed, 'test');
  const A = 4;
  const T = 4;
  const F = 3;
  const attributes = new Float32Array(n * A);
  const features = new Float32Array(n * T * F);
  const genFlag = new Float32Array(n * T);
  for (let i = 0; i < n; i++) {
    const u = r.next();
    const c = u < 0.6 ? 0 : u < 0.9 ? 1 : 2;
    attributes[i * A + c] = 1;
    attributes[i * A + 3] = 0.2 + 0.3 * c;
    for (let t = 0; t < 1 + c; t++) {
      genFlag[i * T + t] = 1;
      features[(i * T + t) * F] = Math.min(1, Math.max(0, 0.2 + 0.3 * c + 0.05 * (r.next() - 0.5)));
      features[(i * T + t) * F + 1 + (c % 2)] = 1;
    }
  }
  return { n, attributes, features, genFlag };
}

/** The same checkpoint as the previous format (version 1) wrote it: one state of the old generator, no named streams. */
export function asCheckpointVersion1(buf: Buffer): Buffer {
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as Record<string, unknown>;
  let json = JSON.stringify({ ...header, version: 1, rng: [1, 2, 3, 4] });
  while (Buffer.byteLength(json) % 4 !== 0) json += ' ';
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(json), 0);
  return Buffer.concat([buf.subarray(0, 8), len, Buffer.from(json, 'utf8'), buf.subarray(12 + hlen)]);
}

/** Runs a compiled step on the reference interpreter: feeds + state (+ learning rates) in, state updated in place. */
export function interpret(step: CompiledStep, state: Map<string, Tensor>, feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const all: Record<string, Tensor> = { ...feeds };
  for (const s of [...step.state, ...step.reads]) all[s.key] = state.get(s.key) ?? Tensor.from('float32', s.shape, s.init);
  for (const l of Object.values(step.learningRates)) all[l.input] = Tensor.scalar(l.value);
  const names = Object.keys(step.ir!);
  const res = evaluate(names.map((n) => step.ir![n]!), all);
  const out: Record<string, Tensor> = {};
  names.forEach((n, i) => (out[n] = res[i]!));
  for (const s of step.state) state.set(s.key, out[s.output]!);
  return out;
}

