// Nearest vocabulary rows of query vectors in onnxruntime: one MatMul and one TopK over the whole vocabulary per batch
// (batched decoding of port/protocol embeddings).
import { Graph } from '../graph/ir.js';
import { constant, node, topK } from '../graph/api.js';
import { toOnnx } from '../graph/emit.js';
import { createSession, ort, type Device } from './session.js';

/**
 * Per query q of a batch: the rows of the `k` largest float32 scores s(v) = v·q − ‖v‖²/2 over the vocabulary (row-major
 * `vectors` [n, dim]), best first, and those scores; the largest s is the smallest Euclidean distance to q. The caller
 * settles near ties exactly.
 */
export interface VocabScorer {
  /** Rows and scores per query, `k` of each ([b, k], row-major). */
  topk(queries: Float32Array, b: number): Promise<{ rows: Int32Array; scores: Float32Array }>;
  readonly k: number;
  release(): Promise<void>;
}

/**
 * Build the scorer graph of one vocabulary (weights baked in) and open a session on `device`. One MatMul of the
 * queries with a 1 appended against [vectorsᵀ; −½‖v‖²] gives the scores, and one TopK (`opts.k` rows, default 2)
 * the best rows: two passes over the [batch, n] scores (a Sub, two ArgMax, a OneHot and a Mul made seven, and
 * decoding generated rows ran at ~3k rows/CPU-s per port field over 47k ports).
 */
export async function vocabScorer(vectors: Float32Array, n: number, dim: number, opts: { device?: Device; threads?: number; k?: number } = {}): Promise<VocabScorer> {
  const g = new Graph();
  const q = g.input('queries', ['batch', dim + 1]);
  const wt = new Float32Array((dim + 1) * n);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      const x = vectors[i * dim + d]!;
      wt[d * n + i] = x;
      sq += x * x;
    }
    wt[dim * n + i] = -sq / 2;
  }
  // s = [q, 1] · [Wᵀ; −½‖v‖²]; the top k of s
  const k = Math.max(1, Math.min(opts.k ?? 2, n));
  const scores = node('MatMul', [q, constant(g, wt, [dim + 1, n])], {}, { name: 'nearest/MatMul' });
  const [values, top] = topK(scores, k, 1);
  const bytes = toOnnx({ outputs: [{ name: 'scores', value: values }, { name: 'top', value: top }], inputs: [q], name: 'nearest' });
  const session = await createSession(bytes, { device: opts.device ?? 'cpu', ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}) });
  let buf = new Float32Array(0);
  return {
    k,
    async topk(queries, b) {
      if (buf.length < b * (dim + 1)) buf = new Float32Array(b * (dim + 1));
      for (let i = 0; i < b; i++) {
        buf.set(queries.subarray(i * dim, (i + 1) * dim), i * (dim + 1));
        buf[i * (dim + 1) + dim] = 1;
      }
      const out = await session.run({ queries: new ort.Tensor('float32', buf.subarray(0, b * (dim + 1)), [b, dim + 1]) });
      const idx = out['top']!.data as BigInt64Array;
      const rows = new Int32Array(b * k);
      for (let i = 0; i < b * k; i++) rows[i] = Number(idx[i]!);
      return { rows, scores: Float32Array.from(out['scores']!.data as Float32Array) };
    },
    release: () => session.release(),
  };
}
