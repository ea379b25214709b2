// Test helpers: run IR outputs through onnxruntime and compare with the reference interpreter.
import { toOnnx, type Value } from '../../src/graph/index.js';
import { Tensor } from '../../src/graph/tensor.js';
import { createSession, ort } from '../../src/runtime/session.js';

export function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(t.data), [...t.shape]);
  if (t.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), [...t.shape]);
  return new ort.Tensor('bool', Uint8Array.from(t.data), [...t.shape]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const data = t.type === 'int64' ? Float64Array.from(t.data as BigInt64Array, (v) => Number(v)) : Float64Array.from(t.data as ArrayLike<number>, (v) => Number(v));
  const dtype = t.type === 'float32' ? 'float32' : t.type === 'int64' ? 'int64' : 'bool';
  return new Tensor(dtype, [...t.dims], data);
}

/** Emits `outputs` (named out0, out1, …) and runs them on the CPU EP. */
export async function runOrt(outputs: readonly Value[], feeds: Readonly<Record<string, Tensor>>): Promise<Tensor[]> {
  const bytes = toOnnx({ outputs: outputs.map((v, i) => ({ name: `out${i}`, value: v })) });
  const s = await createSession(bytes, { intraOpThreads: 1 });
  const f: Record<string, ort.Tensor> = {};
  for (const name of s.inputNames) {
    const t = feeds[name];
    if (!t) throw new Error(`test feeds lack ${name}`);
    f[name] = toOrt(t);
  }
  const r = await s.run(f);
  await s.release();
  return outputs.map((_, i) => fromOrt(r[`out${i}`]!));
}

/** Max |a−b| / (atol + rtol·|b|) over elements; ≤ 1 means close. */
export function closeness(a: Tensor, b: Tensor, rtol = 1e-4, atol = 1e-5): number {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`shape mismatch [${a.shape}] vs [${b.shape}]`);
  let worst = 0;
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!) / (atol + rtol * Math.abs(b.data[i]!));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}
