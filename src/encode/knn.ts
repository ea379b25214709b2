// Exact nearest-neighbour search over small-dimensional unit vectors (cosine = dot product): a k-d tree with a cache.

const shared = new WeakMap<Float32Array, CosineIndex>();

/** The query as float64, divided by its L2 norm (left as is when the norm is 0): what every lookup compares. */
export function unitQuery(q: Float32Array | Float64Array | number[], qOff: number, dim: number): Float64Array {
  const qq = new Float64Array(dim);
  unitQueryInto(q, qOff, dim, qq, 0);
  return qq;
}

/** unitQuery written into `out` at `outOff` (a caller with many queries: no array per query). */
export function unitQueryInto(q: Float32Array | Float64Array | number[], qOff: number, dim: number, out: Float64Array, outOff: number): void {
  let norm = 0;
  for (let d = 0; d < dim; d++) {
    const x = (out[outOff + d] = q[qOff + d]!);
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let d = 0; d < dim; d++) out[outOff + d]! /= norm;
}

/** One index per vector table (srcport and dstport share the port vocabulary's). */
export function cosineIndexFor(vecs: Float32Array, n: number, dim: number): CosineIndex {
  let idx = shared.get(vecs);
  if (!idx) {
    idx = new CosineIndex(vecs, n, dim);
    shared.set(vecs, idx);
  }
  return idx;
}

/**
 * Exact maximum-cosine lookup among `n` L2-normalised vectors of dimension `dim` (row-major). The k-d tree is built on
 * the first search: decoding rows that are vocabulary vectors bit for bit (the generate stage's snapped rows) only needs
 * the exact-match table, and building the tree over 47k port vectors cost each generate job ~0.6 CPU-s.
 */
export class CosineIndex {
  private perm = new Uint32Array(0);
  private splitDim = new Int8Array(0);
  private splitVal = new Float32Array(0);
  private built = false;
  private readonly leafSize = 8;
  /** Exact-match table: hash of the float32 bit patterns → first row with that hash. */
  private readonly exact = new Map<number, number>();
  /** Rows of other vectors with a hash already in `exact` (first row of each distinct vector, in row order). */
  private readonly collided = new Map<number, number[]>();
  private readonly bits: Uint32Array;
  private lastQ: WeakRef<Float32Array> | undefined;
  private lastBits: WeakRef<Uint32Array> | undefined;

  constructor(
    private readonly vecs: Float32Array,
    private readonly n: number,
    private readonly dim: number,
  ) {
    this.bits = new Uint32Array(vecs.buffer, vecs.byteOffset, n * dim);
    for (let i = 0; i < n; i++) {
      const k = this.hash(this.bits, i * dim);
      const j = this.exact.get(k);
      if (j === undefined) this.exact.set(k, i);
      else if (!this.sameBits(j, this.bits, i * dim) && !(this.collided.get(k) ?? []).some((c) => this.sameBits(c, this.bits, i * dim))) {
        // a different vector with the same hash (~1 in 4 vocabularies of 47k vectors have one): kept beside it
        this.collided.set(k, [...(this.collided.get(k) ?? []), i]);
      }
    }
  }

  private hash(b: Uint32Array, off: number): number {
    let h = 0x811c9dc5;
    for (let d = 0; d < this.dim; d++) h = Math.imul(h ^ b[off + d]!, 0x01000193) ^ (h >>> 15);
    return h;
  }

  /** Vocabulary size and vector width. */
  get size(): number {
    return this.n;
  }
  get width(): number {
    return this.dim;
  }

  /** Row whose vector equals q bit for bit (what `nearest` answers first for float32 queries), or −1. */
  exactHit(q: Float32Array, qOff = 0): number {
    return this.n === 0 ? -1 : this.exactRow(q, qOff);
  }

  /**
   * `nearest` restricted to the rows `candidates` (which must hold every row as close as the nearest one): the same
   * float64 distances in the same order, ties to the lowest row. Batched decoding (src/pipeline/embedding-decode.ts)
   * calls it where float32 scores cannot separate the best row from others.
   */
  nearestAmong(q: Float32Array | Float64Array | number[], qOff: number, candidates: ArrayLike<number>): number {
    const dim = this.dim;
    const qq = unitQuery(q, qOff, dim);
    let bestI = -1;
    let bestD = Infinity;
    for (let c = 0; c < candidates.length; c++) {
      const p = candidates[c]!;
      const o = p * dim;
      let dist = 0;
      for (let d = 0; d < dim; d++) {
        const t = this.vecs[o + d]! - qq[d]!;
        dist += t * t;
      }
      if (dist < bestD || (dist === bestD && p < bestI)) {
        bestD = dist;
        bestI = p;
      }
    }
    return bestI;
  }

  /** Row whose vector equals q bit for bit, or −1. */
  private exactRow(q: Float32Array, qOff: number): number {
    // the bits view of the last array asked about (a batch asks row after row of one array: no view per call), held
    // weakly (it must not keep a block of rows alive)
    let qb = this.lastQ?.deref() === q ? this.lastBits?.deref() : undefined;
    if (!qb) {
      qb = new Uint32Array(q.buffer, q.byteOffset, q.length);
      this.lastQ = new WeakRef(q);
      this.lastBits = new WeakRef(qb);
    }
    const h = this.hash(qb, qOff);
    const i = this.exact.get(h);
    if (i === undefined) return -1;
    if (this.sameBits(i, qb, qOff)) return i;
    for (const c of this.collided.get(h) ?? []) if (this.sameBits(c, qb, qOff)) return c;
    return -1;
  }

  /** Whether row `i`'s vector has the bits of `qb` at `qOff`. */
  private sameBits(i: number, qb: Uint32Array, qOff: number): boolean {
    for (let d = 0; d < this.dim; d++) if (this.bits[i * this.dim + d] !== qb[qOff + d]) return false;
    return true;
  }

  /** The k-d tree, once (the same tree whenever it is built: it depends on the vectors only). */
  private ensureTree(): void {
    if (this.built) return;
    const n = this.n;
    this.perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    this.splitDim = new Int8Array(Math.max(1, 4 * n));
    this.splitVal = new Float32Array(Math.max(1, 4 * n));
    if (n > 0) this.build(0, 0, n);
    this.built = true;
  }

  private build(node: number, lo: number, hi: number): void {
    if (hi - lo <= this.leafSize) {
      this.splitDim[node] = -1;
      return;
    }
    // split on the dimension of largest spread at the median
    let best = 0;
    let bestSpread = -1;
    for (let d = 0; d < this.dim; d++) {
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = lo; i < hi; i++) {
        const x = this.vecs[this.perm[i]! * this.dim + d]!;
        if (x < mn) mn = x;
        if (x > mx) mx = x;
      }
      if (mx - mn > bestSpread) {
        bestSpread = mx - mn;
        best = d;
      }
    }
    const sub = Array.from(this.perm.subarray(lo, hi));
    sub.sort((a, b) => this.vecs[a * this.dim + best]! - this.vecs[b * this.dim + best]!);
    this.perm.set(sub, lo);
    const mid = (lo + hi) >>> 1;
    this.splitDim[node] = best;
    this.splitVal[node] = this.vecs[this.perm[mid]! * this.dim + best]!;
    this.build(2 * node + 1, lo, mid);
    this.build(2 * node + 2, mid, hi);
  }

  /** Index of the vector with the largest cosine to `q` (any norm; ties → lowest index). */
  nearest(q: Float32Array | Float64Array | number[], qOff = 0): number {
    if (this.n === 0) return -1;
    const dim = this.dim;
    if (q instanceof Float32Array) {
      const hit = this.exactRow(q, qOff);
      if (hit >= 0) return hit;
    }
    this.ensureTree();
    const qq = unitQuery(q, qOff, dim);
    // on unit vectors, max cosine == min Euclidean distance
    let bestI = -1;
    let bestD = Infinity;
    const vecs = this.vecs;
    const visit = (node: number, lo: number, hi: number): void => {
      const sd = this.splitDim[node]!;
      if (sd < 0) {
        for (let i = lo; i < hi; i++) {
          const p = this.perm[i]!;
          let dist = 0;
          const o = p * dim;
          for (let d = 0; d < dim; d++) {
            const t = vecs[o + d]! - qq[d]!;
            dist += t * t;
          }
          if (dist < bestD || (dist === bestD && p < bestI)) {
            bestD = dist;
            bestI = p;
          }
        }
        return;
      }
      const mid = (lo + hi) >>> 1;
      const diff = qq[sd]! - this.splitVal[node]!;
      if (diff < 0) {
        visit(2 * node + 1, lo, mid);
        if (diff * diff <= bestD) visit(2 * node + 2, mid, hi);
      } else {
        visit(2 * node + 2, mid, hi);
        if (diff * diff <= bestD) visit(2 * node + 1, lo, mid);
      }
    };
    visit(0, 0, this.n);
    return bestI;
  }
}
