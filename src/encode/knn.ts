// Exact nearest-neighbour search over small-dimensional unit vectors (cosine = dot product): a k-d tree with a cache.

/** Exact maximum-cosine lookup among `n` L2-normalised vectors of dimension `dim` (row-major). */
export class CosineIndex {
  private readonly perm: Uint32Array;
  private readonly splitDim: Int8Array;
  private readonly splitVal: Float32Array;
  private readonly leafSize = 8;
  private readonly exact = new Map<string, number>();

  constructor(
    private readonly vecs: Float32Array,
    private readonly n: number,
    private readonly dim: number,
  ) {
    this.perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    this.splitDim = new Int8Array(Math.max(1, 4 * n));
    this.splitVal = new Float32Array(Math.max(1, 4 * n));
    if (n > 0) this.build(0, 0, n);
    for (let i = 0; i < n; i++) {
      const k = this.key(vecs, i * dim);
      if (!this.exact.has(k)) this.exact.set(k, i);
    }
  }

  private key(v: Float32Array, off: number): string {
    let s = '';
    for (let d = 0; d < this.dim; d++) s += `${v[off + d]},`;
    return s;
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
    const qq = new Float64Array(dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      qq[d] = q[qOff + d]!;
      norm += qq[d]! * qq[d]!;
    }
    if (q instanceof Float32Array) {
      const hit = this.exact.get(this.key(q, qOff));
      if (hit !== undefined) return hit;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (let d = 0; d < dim; d++) qq[d]! /= norm;
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
