// word2vec CBOW with negative sampling in plain TypeScript on Float32Arrays (gensim 3.8 semantics NetShare relied on).
import { Rng } from '../core/rng.js';

export interface Word2VecOptions {
  dim: number;
  window: number;
  negative: number;
  epochs: number;
  alpha: number;
  minAlpha: number;
  /** Frequent-word down-sampling threshold (gensim `sample`); 0 = off. */
  sample: number;
  seed: number;
}

/**
 * Train CBOW embeddings. `sentences` is a flat Int32Array of token ids, `sentenceLen` tokens per sentence
 * (NetShare: [srcport, dstport, proto] → 3). `counts[v]` is the corpus frequency of token v, used for the
 * negative-sampling table (count^0.75) and down-sampling. Returns the raw vectors [vocab × dim].
 *
 * Like gensim (cbow_mean=1): the hidden layer is the mean of the context vectors, each context word receives the
 * whole error, the effective window is reduced by a random amount per centre word, and alpha decays linearly.
 */
export function trainCbow(sentences: Int32Array, sentenceLen: number, counts: Float64Array, opts: Word2VecOptions): Float32Array {
  const V = counts.length;
  const D = opts.dim;
  const root = Rng.forPurpose(opts.seed, 'word2vec');
  const init = root.substream('init');
  const syn0 = new Float32Array(V * D);
  for (let i = 0; i < syn0.length; i++) syn0[i] = (init.next() - 0.5) / D;
  // down-sampling, window shrink and negative draws, in corpus order
  const rng = root.substream('train');
  const syn1 = new Float32Array(V * D);
  // unigram^0.75 table
  let pw = 0;
  for (let v = 0; v < V; v++) pw += Math.pow(counts[v]!, 0.75);
  const tableSize = Math.max(1000, Math.min(10_000_000, V * 100));
  const table = new Int32Array(tableSize);
  {
    let v = 0;
    let acc = Math.pow(counts[0]!, 0.75) / pw;
    for (let i = 0; i < tableSize; i++) {
      table[i] = v;
      if (i / tableSize > acc && v < V - 1) {
        v++;
        acc += Math.pow(counts[v]!, 0.75) / pw;
      }
    }
  }
  // down-sampling keep probabilities (gensim formula)
  let total = 0;
  for (let v = 0; v < V; v++) total += counts[v]!;
  const keep = new Float32Array(V).fill(1);
  if (opts.sample > 0) {
    const th = opts.sample * total;
    for (let v = 0; v < V; v++) {
      const c = counts[v]!;
      keep[v] = Math.min(1, (Math.sqrt(c / th) + 1) * (th / c));
    }
  }
  const nSent = Math.floor(sentences.length / sentenceLen);
  const totalWork = nSent * opts.epochs;
  const neu1 = new Float32Array(D);
  const neu1e = new Float32Array(D);
  const words = new Int32Array(sentenceLen);
  let done = 0;
  for (let ep = 0; ep < opts.epochs; ep++) {
    for (let s = 0; s < nSent; s++, done++) {
      const alpha = Math.max(opts.minAlpha, opts.alpha - (opts.alpha - opts.minAlpha) * (done / totalWork));
      let len = 0;
      for (let j = 0; j < sentenceLen; j++) {
        const w = sentences[s * sentenceLen + j]!;
        if (w < 0) continue;
        if (keep[w]! < 1 && keep[w]! < rng.next()) continue;
        words[len++] = w;
      }
      if (len < 2) continue;
      for (let i = 0; i < len; i++) {
        const b = rng.int(opts.window);
        const lo = Math.max(0, i - opts.window + b);
        const hi = Math.min(len, i + opts.window + 1 - b);
        neu1.fill(0);
        let cnt = 0;
        for (let j = lo; j < hi; j++) {
          if (j === i) continue;
          const o = words[j]! * D;
          for (let d = 0; d < D; d++) neu1[d]! += syn0[o + d]!;
          cnt++;
        }
        if (cnt === 0) continue;
        for (let d = 0; d < D; d++) neu1[d]! /= cnt;
        neu1e.fill(0);
        const target = words[i]!;
        for (let k = 0; k <= opts.negative; k++) {
          let t: number;
          let label: number;
          if (k === 0) {
            t = target;
            label = 1;
          } else {
            t = table[rng.int(tableSize)]!;
            if (t === target) continue;
            label = 0;
          }
          const o = t * D;
          let f = 0;
          for (let d = 0; d < D; d++) f += neu1[d]! * syn1[o + d]!;
          let sig: number;
          if (f > 6) sig = 1;
          else if (f < -6) sig = 0;
          else sig = 1 / (1 + Math.exp(-f));
          const g = (label - sig) * alpha;
          for (let d = 0; d < D; d++) {
            neu1e[d]! += g * syn1[o + d]!;
            syn1[o + d]! += g * neu1[d]!;
          }
        }
        for (let j = lo; j < hi; j++) {
          if (j === i) continue;
          const o = words[j]! * D;
          for (let d = 0; d < D; d++) syn0[o + d]! += neu1e[d]!;
        }
      }
    }
  }
  return syn0;
}

/** L2-normalise rows in place (zero rows stay zero). */
export function normalizeRows(v: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < v.length; o += dim) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += v[o + d]! * v[o + d]!;
    n = Math.sqrt(n);
    if (n > 0) for (let d = 0; d < dim; d++) v[o + d]! /= n;
  }
  return v;
}

/** Cosine of rows a and b of a row-major matrix. */
export function cosineRows(v: Float32Array, dim: number, a: number, b: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let d = 0; d < dim; d++) {
    const x = v[a * dim + d]!;
    const y = v[b * dim + d]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}
