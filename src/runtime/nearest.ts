// Nearest vocabulary rows of query vectors in onnxruntime: one MatMul and two ArgMax over the whole vocabulary per batch
// (batched decoding of port/protocol embeddings).
import { Graph } from '../graph/ir.js';
import { constant, mul, node, oneHot, sub } from '../graph/api.js';
import { toOnnx } from '../graph/emit.js';
import { createSession, ort, type Device } from './session.js';

/**
 * Per query q of a batch: the rows of the largest and second-largest float32 score s(v) = v·q − ‖v‖²/2 over the
 * vocabulary (row-major `vectors` [n, dim]); the largest s is the smallest Euclidean distance to q. The caller settles
 * near ties exactly.
 */
export interface VocabScorer {
  top2(queries: Float32Array, b: number): Promise<{ best: Int32Array; second: Int32Array }>;
  release(): Promise<void>;
}

/** Build the scorer graph of one vocabulary (weights baked in) and open a session on `device`. */
export async function vocabScorer(vectors: Float32Array, n: number, dim: number, opts: { device?: Device; threads?: number } = {}): Promise<VocabScorer> {
  const g = new Graph();
  const q = g.input('queries', ['batch', dim]);
  const wt = new Float32Array(dim * n);
  const half = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      const x = vectors[i * dim + d]!;
      wt[d * n + i] = x;
      sq += x * x;
    }
    half[i] = sq / 2;
  }
  // s = q · Wᵀ − ½‖v‖²; best = argmax s (first maximum); second = argmax of s with the best pushed far down
  const scores = sub(node('MatMul', [q, constant(g, wt, [dim, n])], {}, { name: 'nearest/MatMul' }), constant(g, half, [n]));
  const best = node('ArgMax', [scores], { axis: 1, keepdims: 0 }, { name: 'nearest/ArgMax' });
  const second = node('ArgMax', [sub(scores, mul(oneHot(best, n), 1e9))], { axis: 1, keepdims: 0 }, { name: 'nearest/ArgMax2' });
  const bytes = toOnnx({ outputs: [{ name: 'best', value: best }, { name: 'second', value: second }], inputs: [q], name: 'nearest' });
  const session = await createSession(bytes, { device: opts.device ?? 'cpu', ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}) });
  const ints = (x: BigInt64Array, b: number): Int32Array => {
    const out = new Int32Array(b);
    for (let i = 0; i < b; i++) out[i] = Number(x[i]!);
    return out;
  };
  return {
    async top2(queries, b) {
      const out = await session.run({ queries: new ort.Tensor('float32', queries.subarray(0, b * dim), [b, dim]) });
      return { best: ints(out['best']!.data as BigInt64Array, b), second: ints(out['second']!.data as BigInt64Array, b) };
    },
    release: () => session.release(),
  };
}
