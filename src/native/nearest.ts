// Nearest vocabulary rows of query vectors in the native addon (native/nearest.cc): one pass over the transposed
// vocabulary per block of queries, each query's k best rows kept by a running threshold (batched decoding of
// port/protocol embeddings).
import { nativeBinding } from './addon.js';

/**
 * Per query q of a batch: the rows of the `k` largest float32 scores s(v) = v·q − ‖v‖²/2 over the vocabulary (row-major
 * `vectors` [n, dim]), best first, and those scores; the largest s is the smallest Euclidean distance to q. The caller
 * settles near ties exactly.
 */
export interface VocabScorer {
  /** Rows and scores per query, `k` of each ([b, k], row-major); `queries` holds b rows of dim values. */
  topk(queries: Float32Array, b: number): { rows: Int32Array; scores: Float32Array };
  readonly k: number;
  /** Vocabulary rows scored so far over all queries (pruned scorers only). */
  readonly scanned?: number;
  /**
   * Pruned scorers only: the vocabulary row nearest to each of the `n` rows' vectors at `off` in `rows` ([n, stride]),
   * decided as src/pipeline/embedding-decode.ts nearestRows decides it (an exact hit, else the top k within the gap,
   * settled among them by float64 distances to the unit query, ties to the lowest row), all in the addon; −1 where
   * the caller's k-d tree must decide (a zero or non-finite query, or k rows all within the gap).
   */
  nearest?(rows: Float32Array, stride: number, off: number, n: number): Int32Array;
}

/** Vocabularies at least this large are searched pruned when the caller gives a gap (PrunedVocab). */
export const PRUNE_MIN_ROWS = 4096;

interface PrunedVocabNative {
  topk(queries: Float32Array, b: number, k: number, gap: number): { rows: Int32Array; scores: Float32Array };
  nearest(rows: Float32Array, stride: number, off: number, n: number, k: number, gap: number): Int32Array;
  readonly clusters: number;
  readonly scanned: number;
}

type NearestTopK = (vocabT: Float32Array, n: number, dim: number, queries: Float32Array, b: number, k: number) => { rows: Int32Array; scores: Float32Array };

/**
 * The scorer of one vocabulary. With `gap` (and at least PRUNE_MIN_ROWS rows) it is the addon's PrunedVocab: the
 * rows in clusters, each with a bound on its rows' scores, so that a query scans only the clusters that can hold a row
 * within `gap` of its best score (13–19% of the UGR16 port vocabulary scored); its k rows are then only those within `gap`
 * of the best (all of them when fewer than k are; the rest of the list −1 / −∞), which is all the batched decoding
 * reads. Otherwise it is the flat scan: its rows transposed with −½‖v‖² appended ([dim + 1][n]), scored by the addon's
 * nearestTopK (AVX2 + FMA where the CPU has them). An onnxruntime MatMul + TopK did the same at ~18k queries per
 * CPU-second per port field over 47k ports: it wrote the [batch, n] scores out and read them back.
 */
export function vocabScorer(vectors: Float32Array, n: number, dim: number, opts: { k?: number; gap?: number } = {}): VocabScorer {
  const k = Math.max(1, Math.min(opts.k ?? 2, n));
  if (opts.gap !== undefined && n >= PRUNE_MIN_ROWS) {
    const Pruned = nativeBinding()['PrunedVocab'] as new (v: Float32Array, n: number, dim: number) => PrunedVocabNative;
    const index = new Pruned(vectors, n, dim);
    const gap = opts.gap;
    return {
      k,
      topk: (queries, b) => index.topk(queries, b, k, gap),
      nearest: (rows, stride, off, n) => index.nearest(rows, stride, off, n, k, gap),
      get scanned() {
        return index.scanned;
      },
    };
  }
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
  const topK = nativeBinding()['nearestTopK'] as NearestTopK;
  return {
    k,
    topk: (queries, b) => topK(wt, n, dim, queries, b, k),
  };
}
