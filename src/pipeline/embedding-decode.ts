// Batched nearest-neighbour decoding of generated port/protocol embeddings: rows that are a vocabulary vector bit for bit
// are looked up, the rest scored against the whole vocabulary at once (onnxruntime MatMul + ArgMax: the best and the
// second-best row by float32 score). Where the exact float64 scores of those two are more than GAP apart, the float32
// ranking cannot have put any other row first, so the best is the answer; otherwise (near ties, duplicate vectors) the
// k-d tree decides. Every answer equals CosineIndex.nearest's (same row, ties to the lowest).
import type { EmbeddingEncoder } from '../encode/fields.js';
import { unitQuery } from '../encode/knn.js';
import { IpBitsEncoder } from '../encode/fields.js';
import type { EncoderSet } from '../encode/tensors.js';
import { vocabScorer, type VocabScorer } from '../runtime/nearest.js';

/**
 * Four times a bound on |float32 score − exact score|, with margin: s(v) = v·q − ‖v‖²/2 of unit vectors over ≤ 32
 * dimensions has a float32 error below 5e-6 (≤ dim rounding steps of 2⁻²⁴ on terms ≤ 1, plus q and ‖v‖²/2 rounded to
 * float32). If s(best) − s(second) > 4e exactly, the float32 scores of best and every other row are > 2e apart, so
 * no other row can be the exact nearest.
 */
export const SCORE_GAP = 1e-4;
/** Below this many (query, vocabulary row) pairs the k-d tree answers directly (no session to build). */
const SMALL_WORK = 2_000_000;

const scorers = new WeakMap<Float32Array, Promise<VocabScorer>>();

/** Vocabulary row nearest to each of the `n` rows' vectors at `off` in `rows` ([n, stride]). */
export async function nearestRows(enc: EmbeddingEncoder, rows: Float32Array, stride: number, off: number, n: number): Promise<Int32Array> {
  const index = enc.nearestIndex();
  const V = index.size;
  const dim = index.width;
  const out = new Int32Array(n);
  const pending: number[] = [];
  for (let r = 0; r < n; r++) {
    const hit = index.exactHit(rows, r * stride + off);
    if (hit >= 0) out[r] = hit;
    else pending.push(r);
  }
  if (pending.length === 0 || V === 0) return out;
  if (pending.length * V < SMALL_WORK) {
    for (const r of pending) out[r] = index.nearest(rows, r * stride + off);
    return out;
  }
  let sp = scorers.get(enc.vectors);
  if (!sp) {
    sp = vocabScorer(enc.vectors, V, dim, { threads: 1 });
    scorers.set(enc.vectors, sp);
  }
  const scorer = await sp;
  // batches of ~1M scores: the [b, V] intermediates stay in cache
  const B = Math.max(1, Math.min(pending.length, Math.floor(1_000_000 / V)));
  const q = new Float32Array(B * dim);
  const exactScore = (row: number, uq: Float64Array): number => {
    let dot = 0;
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      const x = enc.vectors[row * dim + d]!;
      dot += x * uq[d]!;
      sq += x * x;
    }
    return dot - sq / 2;
  };
  const uqs: Float64Array[] = new Array<Float64Array>(B);
  for (let at = 0; at < pending.length; at += B) {
    const b = Math.min(B, pending.length - at);
    for (let i = 0; i < b; i++) {
      const uq = unitQuery(rows, pending[at + i]! * stride + off, dim);
      uqs[i] = uq;
      for (let d = 0; d < dim; d++) q[i * dim + d] = uq[d]!;
    }
    const { best, second } = await scorer.top2(q, b);
    for (let i = 0; i < b; i++) {
      const r = pending[at + i]!;
      const uq = uqs[i]!;
      let ok = best[i] !== second[i];
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += uq[d]! * uq[d]!;
      // zero or non-finite queries, and near ties: the k-d tree's own answer
      if (!(norm > 0) || !Number.isFinite(norm)) ok = false;
      if (ok && !(exactScore(best[i]!, uq) - exactScore(second[i]!, uq) > SCORE_GAP)) ok = false;
      out[r] = ok ? best[i]! : index.nearest(rows, r * stride + off);
    }
  }
  return out;
}

/**
 * For decodeChunk: the vocabulary row of every embedding-encoded metadata field (by its index in `set.metadata`) of
 * attribute rows [n, A], computed in batches.
 */
export async function embeddingRowsOf(set: EncoderSet, attributes: Float32Array, A: number, n: number): Promise<Map<number, Int32Array>> {
  const out = new Map<number, Int32Array>();
  let off = 0;
  for (const [k, e] of set.metadata.entries()) {
    if (!(e instanceof IpBitsEncoder) && 'nearestIndex' in e) out.set(k, await nearestRows(e as EmbeddingEncoder, attributes, A, off, n));
    off += e.dim;
  }
  return out;
}

/**
 * Replaces, in place, the vector of every embedding-encoded metadata field of attribute rows [n, A] by the vocabulary
 * vector it decodes to (its nearest row), and returns those rows per field as embeddingRowsOf does. The rows decode
 * to the same values afterwards, now as exact hits (a hash lookup instead of a search over the vocabulary): the
 * generate stage snaps sampled attributes once, when its fill first decodes them, so that the 5-tuple dedupe, the
 * flow-tag merge's dedupe, the selection samples and the feature jobs do not search again. The features are then
 * conditioned on the vocabulary vector of the port that is written out (what the model saw in training) rather
 * than on the raw generated vector.
 */
export async function snapEmbeddings(set: EncoderSet, attributes: Float32Array, A: number, n: number): Promise<Map<number, Int32Array>> {
  const found = await embeddingRowsOf(set, attributes, A, n);
  let off = 0;
  for (const [k, e] of set.metadata.entries()) {
    const at = found.get(k);
    if (at) {
      const { vectors, vecDim } = e as EmbeddingEncoder;
      for (let r = 0; r < n; r++) attributes.set(vectors.subarray(at[r]! * vecDim, (at[r]! + 1) * vecDim), r * A + off);
    }
    off += e.dim;
  }
  return found;
}
