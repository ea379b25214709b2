// Batched nearest-neighbour decoding of generated port/protocol embeddings: rows that are a vocabulary vector bit for bit
// are looked up, the rest scored against the vocabulary in batches (the native addon: the TOP_K best rows by float32
// score and their scores, from a pruned search over clusters of the vocabulary when it has PRUNE_MIN_ROWS rows or more,
// which is exact for every row within SCORE_GAP of the best, all that is read below). The exact nearest row's float32 score is within GAP/2 of the best float32 score,
// so when the TOP_K-th score is more than GAP below the best, the rows of the top TOP_K within GAP of the best hold it
// and every row as near: the exact float64 distances among those decide (one row: the best); otherwise (more near ties
// than TOP_K, duplicate vectors, zero queries) the k-d tree decides. Every answer equals CosineIndex.nearest's (same
// row, ties to the lowest).
import type { EmbeddingEncoder } from '../encode/fields.js';
import { unitQueryInto } from '../encode/knn.js';
import { IpBitsEncoder } from '../encode/fields.js';
import type { EncoderSet } from '../encode/tensors.js';
import { PRUNE_MIN_ROWS, vocabScorer, type VocabScorer } from '../native/nearest.js';

/**
 * Four times a bound e on |float32 score − exact score|, with margin: s(v) = v·q − ‖v‖²/2 of unit vectors over ≤ 32
 * dimensions has a float32 error below 5e-6 (≤ dim rounding steps of 2⁻²⁴ on terms ≤ 1, plus q and ‖v‖²/2 rounded to
 * float32). The exact nearest row t has float32 score f(t) ≥ s(t) − e ≥ s(best) − e ≥ f(best) − 2e > f(best) − GAP.
 */
export const SCORE_GAP = 1e-4;
/**
 * Rows the scorer returns per query: near ties (another row within SCORE_GAP of the best float32 score, ~0.6% of the
 * generated ports of the UGR16 300k workdir over 47k port vectors) are settled among them instead of by the k-d tree,
 * which cost ~1.7 ms a query there (a fifth of the port decoding's CPU).
 */
export const TOP_K = 8;
/** Below this many (query, vocabulary row) pairs the k-d tree answers directly (no transposed vocabulary to build). */
const SMALL_WORK = 2_000_000;

const scorers = new WeakMap<Float32Array, VocabScorer>();
/**
 * The scorers of this process by their vocabulary's contents (a worker's next job loads the encoders anew: building a
 * pruned scorer of the 61k-port UGR16 vocabulary took ~0.3 s of every fill job), the last few only.
 */
const scorersByContent = new Map<string, { vectors: Float32Array; scorer: VocabScorer }>();
const CONTENT_SCORERS = 4;

/** A key of the vocabulary's bytes (FNV-1a over its 32-bit words, two lanes) with its shape. */
function vocabularyKey(vectors: Float32Array, V: number, dim: number): string {
  const w = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ w.length;
  for (let i = 0; i < w.length; i++) {
    a = Math.imul(a ^ w[i]!, 0x01000193);
    b = Math.imul(b ^ (w[i]! >>> 7) ^ i, 0x85ebca6b);
  }
  return `${V}x${dim}:${(a >>> 0).toString(16)}:${(b >>> 0).toString(16)}`;
}

function scorerOf(enc: EmbeddingEncoder, V: number, dim: number): VocabScorer {
  let scorer = scorers.get(enc.vectors);
  if (scorer) return scorer;
  const key = vocabularyKey(enc.vectors, V, dim);
  const known = scorersByContent.get(key);
  // the same bytes, checked (not only the key)
  const same = known !== undefined && Buffer.from(known.vectors.buffer, known.vectors.byteOffset, known.vectors.byteLength).equals(Buffer.from(enc.vectors.buffer, enc.vectors.byteOffset, enc.vectors.byteLength));
  if (known && same) scorer = known.scorer;
  else {
    scorer = vocabScorer(enc.vectors, V, dim, { k: TOP_K, gap: SCORE_GAP });
    scorersByContent.delete(key);
    scorersByContent.set(key, { vectors: enc.vectors, scorer });
    for (const k of scorersByContent.keys()) if (scorersByContent.size > CONTENT_SCORERS) scorersByContent.delete(k);
  }
  scorers.set(enc.vectors, scorer);
  return scorer;
}

/** Vocabulary row nearest to each of the `n` rows' vectors at `off` in `rows` ([n, stride]). */
export async function nearestRows(enc: EmbeddingEncoder, rows: Float32Array, stride: number, off: number, n: number): Promise<Int32Array> {
  const index = enc.nearestIndex();
  const V = index.size;
  const dim = index.width;
  // a pruned scorer decides row by row in the addon (the same answers as the loop below); its −1s take the k-d tree
  if (n * V >= SMALL_WORK && V >= PRUNE_MIN_ROWS) {
    const found = scorerOf(enc, V, dim).nearest?.(rows, stride, off, n);
    if (found) {
      for (let r = 0; r < n; r++) if (found[r]! < 0) found[r] = index.nearest(rows, r * stride + off);
      return found;
    }
  }
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
  const scorer = scorerOf(enc, V, dim);
  // batches of 4,096 queries (the scorer keeps no [b, V] intermediate)
  const B = Math.max(1, Math.min(pending.length, 4096));
  const q = new Float32Array(B * dim);
  const K = scorer.k;
  // the batch's unit queries in float64, query i at i·dim
  const uqs = new Float64Array(B * dim);
  const near: number[] = [];
  for (let at = 0; at < pending.length; at += B) {
    const b = Math.min(B, pending.length - at);
    for (let i = 0; i < b; i++) {
      unitQueryInto(rows, pending[at + i]! * stride + off, dim, uqs, i * dim);
      for (let d = 0; d < dim; d++) q[i * dim + d] = uqs[i * dim + d]!;
    }
    const top = scorer.topk(q, b);
    for (let i = 0; i < b; i++) {
      const r = pending[at + i]!;
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += uqs[i * dim + d]! * uqs[i * dim + d]!;
      // zero or non-finite queries: the k-d tree's own answer
      const best = top.scores[i * K]!;
      if (!(norm > 0) || !Number.isFinite(norm) || !Number.isFinite(best)) {
        out[r] = index.nearest(rows, r * stride + off);
        continue;
      }
      // the rows within SCORE_GAP of the best float32 score (TopK sorts them first)
      near.length = 0;
      for (let j = 0; j < K && top.scores[i * K + j]! >= best - SCORE_GAP; j++) near.push(top.rows[i * K + j]!);
      if (near.length === 1) out[r] = near[0]!;
      // all K within the gap: rows beyond them may be too
      else if (near.length === K && K < V) out[r] = index.nearest(rows, r * stride + off);
      else out[r] = index.nearestAmong(rows, r * stride + off, near);
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
