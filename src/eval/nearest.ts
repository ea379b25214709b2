// Exact Euclidean nearest-neighbour distances from query points to a fixed point set, for the DCR privacy check:
// a hash set of the distinct points answers distance-0 hits in O(1), a k-d tree with tight bounding boxes answers
// the rest.
import { InternalError } from '../errors.js';

/** Points per k-d tree leaf: small enough that leaves are scanned quickly, few enough nodes that boxes stay small. */
const LEAF = 16;
/** Above this many points a node picks its split dimension from a strided sample (the search stays exact either way). */
const SPREAD_SAMPLE = 512;
/** A subtree of at most this many points (≈ 2 MB of coordinates at d = 16) is built from its own contiguous copy. */
const LOCAL = 16384;

function hashRow(w: Uint32Array, words: number): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < words; k++) {
    h = Math.imul(h ^ w[k]!, 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/**
 * Exact nearest-neighbour index over `n` points of dimension `d`. Duplicate points are stored once (a training
 * trace repeats records), so a cell of identical points never defeats the tree. Each node keeps the tight bounding
 * box of its points, which prunes far better than split planes on clustered data (IP octets, ports, protocols).
 * Distances equal a brute-force scan bit for bit: candidates' squared distances are summed in dimension order, and
 * a box's distance is summed the same way from per-dimension gaps no larger than any inside point's, so rounding
 * (monotone) can never make a box look farther than a point in it.
 */
export class NearestIndex {
  /** Dimension of the points. */
  readonly d: number;
  /** Points indexed, duplicates included. */
  readonly size: number;
  /** Distinct points (what the tree holds). */
  readonly distinct: number;
  /** Distinct points in tree order, row-major [distinct, d]. */
  private readonly pts: Float64Array;
  /** Open-addressing table over `pts`: tree-order id + 1, 0 = empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  // Tree nodes in pre-order (left child = node + 1): point range [lo, hi), right child (-1 = leaf), bounding box
  // (box[2·d·node + k] = min of dimension k, box[2·d·node + d + k] = max).
  private readonly nLo: Int32Array;
  private readonly nHi: Int32Array;
  private readonly nRight: Int32Array;
  private readonly box: Float64Array;
  // Search state, reused across queries.
  private readonly q: Float64Array;
  private readonly qWords: Uint32Array;
  private best = Infinity;

  /**
   * Build from `n` points produced by `fill(i, out)` (writes point i's `d` coordinates into `out`), so callers
   * never hold the full duplicate-laden matrix. Throws InternalError on a non-finite coordinate.
   */
  static build(n: number, d: number, fill: (i: number, out: Float64Array) => void): NearestIndex {
    if (!Number.isInteger(d) || d < 1) throw new InternalError(`NearestIndex: dimension must be a positive integer, got ${d}`);
    let cap = 16;
    while (cap < 2 * n) cap <<= 1;
    const slots = new Int32Array(cap);
    const mask = cap - 1;
    let buf = new Float64Array(Math.max(1, Math.min(n, 1024)) * d);
    const row = new Float64Array(d);
    const rowWords = new Uint32Array(row.buffer);
    let m = 0;
    for (let i = 0; i < n; i++) {
      fill(i, row);
      for (let k = 0; k < d; k++) {
        const v = row[k]!;
        if (!Number.isFinite(v)) throw new InternalError(`NearestIndex: point ${i} has a non-finite coordinate ${v} in dimension ${k}`);
        row[k] = v + 0; // -0 → 0, so equal values hash equally
      }
      let s = hashRow(rowWords, 2 * d) & mask;
      let found = false;
      for (let id = slots[s]!; id !== 0; s = (s + 1) & mask, id = slots[s]!) {
        const o = (id - 1) * d;
        let k = 0;
        while (k < d && buf[o + k] === row[k]) k++;
        if (k === d) {
          found = true;
          break;
        }
      }
      if (found) continue;
      if ((m + 1) * d > buf.length) {
        const grown = new Float64Array(Math.min(n * d, 2 * buf.length));
        grown.set(buf);
        buf = grown;
      }
      buf.set(row, m * d);
      slots[s] = ++m;
    }
    return new NearestIndex(n, d, buf.subarray(0, m * d), m, slots, mask);
  }

  /** Build from row-major points [n, d]. */
  static fromRows(points: Float64Array, d: number): NearestIndex {
    if (points.length % d !== 0) throw new InternalError(`NearestIndex: ${points.length} coordinates is not a multiple of dimension ${d}`);
    return NearestIndex.build(points.length / d, d, (i, out) => out.set(points.subarray(i * d, (i + 1) * d)));
  }

  private constructor(n: number, d: number, src: Float64Array, m: number, slots: Int32Array, mask: number) {
    this.d = d;
    this.size = n;
    this.distinct = m;
    this.mask = mask;
    this.q = new Float64Array(d);
    this.qWords = new Uint32Array(this.q.buffer);
    const perm = new Int32Array(m);
    for (let i = 0; i < m; i++) perm[i] = i;
    // Leaves hold more than LEAF / 2 points (median splits of nodes above LEAF), so this bounds the node count.
    const maxNodes = Math.max(1, 2 * Math.ceil(m / Math.floor(LEAF / 2)) + 1);
    const nLo = new Int32Array(maxNodes);
    const nHi = new Int32Array(maxNodes);
    const nRight = new Int32Array(maxNodes);
    let nodes = 0;
    // The split coordinate of a node's points, gathered once so selection reads memory in order.
    const keys = new Float64Array(m);
    // Wirth's selection on keys[lo..hi] (perm moved alongside): keys[lo..k) ≤ keys[k] ≤ keys(k..hi]; correct with
    // many equal keys.
    const select = (lo: number, hi: number, k: number): void => {
      let l = lo;
      let r = hi;
      while (l < r) {
        const a = keys[l]!;
        const b = keys[k]!;
        const c = keys[r]!;
        const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
        let i = l;
        let j = r;
        do {
          while (keys[i]! < pivot) i++;
          while (pivot < keys[j]!) j--;
          if (i <= j) {
            const t = perm[i]!;
            perm[i] = perm[j]!;
            perm[j] = t;
            const u = keys[i]!;
            keys[i] = keys[j]!;
            keys[j] = u;
            i++;
            j--;
          }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) r = j;
      }
    };
    // Rows that `perm` indexes: `src` near the root; inside a subtree of at most LOCAL points, `pts`, where the
    // subtree's rows were first copied together so the rest of its build stays in cache. origin[p] = the distinct
    // id (index into src) of the row stored at pts row p.
    const pts = new Float64Array(m * d);
    const origin = new Int32Array(m);
    let data = src;
    const tmp = new Float64Array(Math.min(m, LOCAL) * d);
    const tmpOrigin = new Int32Array(Math.min(m, LOCAL));
    const lo = new Float64Array(d);
    const hi = new Float64Array(d);
    const spread = (a: number, b: number, step: number): number => {
      lo.fill(Infinity);
      hi.fill(-Infinity);
      for (let i = a; i < b; i += step) {
        const o = perm[i]! * d;
        for (let k = 0; k < d; k++) {
          const v = data[o + k]!;
          if (v < lo[k]!) lo[k] = v;
          if (v > hi[k]!) hi[k] = v;
        }
      }
      let dim = 0;
      for (let k = 1; k < d; k++) if (hi[k]! - lo[k]! > hi[dim]! - lo[dim]!) dim = k;
      return dim;
    };
    const build = (a: number, b: number): number => {
      const local = data === src && b - a <= LOCAL;
      if (local) {
        for (let i = a; i < b; i++) {
          const o = perm[i]! * d;
          for (let k = 0; k < d; k++) pts[i * d + k] = src[o + k]!;
          origin[i] = perm[i]!;
          perm[i] = i;
        }
        data = pts;
      }
      const node = nodes++;
      nLo[node] = a;
      nHi[node] = b;
      nRight[node] = -1;
      if (b - a > LEAF) {
        // Split the dimension of widest spread (from a strided sample on big nodes; any choice keeps search exact).
        const step = Math.max(1, Math.floor((b - a) / SPREAD_SAMPLE));
        let dim = spread(a, b, step);
        if (!(hi[dim]! > lo[dim]!) && step > 1) dim = spread(a, b, 1);
        const mid = (a + b) >> 1;
        for (let i = a; i < b; i++) keys[i] = data[perm[i]! * d + dim]!;
        select(a, b - 1, mid);
        build(a, mid);
        nRight[node] = build(mid, b);
      }
      if (local) {
        // Put the subtree's rows in tree order (pts row i = the point perm[i] names).
        for (let i = a; i < b; i++) {
          const o = perm[i]! * d;
          for (let k = 0; k < d; k++) tmp[(i - a) * d + k] = pts[o + k]!;
          tmpOrigin[i - a] = origin[perm[i]!]!;
        }
        pts.set(tmp.subarray(0, (b - a) * d), a * d);
        origin.set(tmpOrigin.subarray(0, b - a), a);
        data = src;
      }
      return node;
    };
    if (m > 0) build(0, m);
    this.pts = pts;
    // Re-point the hash slots from distinct ids to tree-order rows.
    const newId = new Int32Array(m);
    for (let i = 0; i < m; i++) newId[origin[i]!] = i;
    this.slots = slots;
    for (let s = 0; s < slots.length; s++) if (slots[s]! > 0) slots[s] = newId[slots[s]! - 1]! + 1;
    // Boxes bottom-up (children follow their parent in pre-order): leaves from their points, parents as unions.
    const box = new Float64Array(Math.max(1, nodes) * 2 * d);
    for (let node = nodes - 1; node >= 0; node--) {
      const o = 2 * d * node;
      if (nRight[node]! < 0) {
        for (let k = 0; k < d; k++) {
          box[o + k] = Infinity;
          box[o + d + k] = -Infinity;
        }
        for (let j = nLo[node]!; j < nHi[node]!; j++)
          for (let k = 0; k < d; k++) {
            const v = pts[j * d + k]!;
            if (v < box[o + k]!) box[o + k] = v;
            if (v > box[o + d + k]!) box[o + d + k] = v;
          }
      } else {
        const l = 2 * d * (node + 1);
        const r = 2 * d * nRight[node]!;
        for (let k = 0; k < d; k++) {
          box[o + k] = Math.min(box[l + k]!, box[r + k]!);
          box[o + d + k] = Math.max(box[l + d + k]!, box[r + d + k]!);
        }
      }
    }
    this.nLo = nLo.slice(0, nodes);
    this.nHi = nHi.slice(0, nodes);
    this.nRight = nRight.slice(0, nodes);
    this.box = box;
  }

  /** Whether a point identical to the query row at offset `qo` of `queries` is indexed; leaves the query in `q`. */
  private hasExact(queries: Float64Array, qo: number): boolean {
    const d = this.d;
    const q = this.q;
    for (let k = 0; k < d; k++) q[k] = queries[qo + k]! + 0;
    for (let s = hashRow(this.qWords, 2 * d) & this.mask, id = this.slots[s]!; id !== 0; s = (s + 1) & this.mask, id = this.slots[s]!) {
      const o = (id - 1) * d;
      let k = 0;
      while (k < d && this.pts[o + k] === q[k]) k++;
      if (k === d) return true;
    }
    return false;
  }

  /** Squared distance from the query to node's box, summed in dimension order; stops early once ≥ best. */
  private boxDist(node: number): number {
    const d = this.d;
    const q = this.q;
    const box = this.box;
    const o = 2 * d * node;
    const best = this.best;
    let s = 0;
    for (let k = 0; k < d && s < best; k++) {
      const v = q[k]!;
      const lo = box[o + k]!;
      const hi = box[o + d + k]!;
      // Same operand order as a point's (q - p) so the gap never exceeds any inside point's after rounding.
      const g = v < lo ? v - lo : v > hi ? v - hi : 0;
      s += g * g;
    }
    return s;
  }

  private search(node: number): void {
    const right = this.nRight[node]!;
    if (right < 0) {
      const d = this.d;
      const q = this.q;
      const pts = this.pts;
      let best = this.best;
      for (let j = this.nLo[node]!, e = this.nHi[node]!; j < e; j++) {
        const o = j * d;
        let s = 0;
        for (let k = 0; k < d && s < best; k++) {
          const diff = q[k]! - pts[o + k]!;
          s += diff * diff;
        }
        if (s < best) best = s;
      }
      this.best = best;
      return;
    }
    const left = node + 1;
    const dl = this.boxDist(left);
    const dr = this.boxDist(right);
    // Nearer box first: its points shrink `best`, so the other is more often pruned.
    if (dl <= dr) {
      if (dl < this.best) this.search(left);
      if (dr < this.best) this.search(right);
    } else {
      if (dr < this.best) this.search(right);
      if (dl < this.best) this.search(left);
    }
  }

  /**
   * Euclidean distance from each query (row-major [n, d]) to its nearest indexed point, in query order.
   * Throws InternalError when the index is empty or the queries are not rows of dimension d.
   */
  distances(queries: Float64Array): Float64Array {
    const d = this.d;
    if (queries.length % d !== 0) throw new InternalError(`NearestIndex: ${queries.length} query coordinates is not a multiple of dimension ${d}`);
    const nq = queries.length / d;
    if (nq > 0 && this.distinct === 0) throw new InternalError('NearestIndex: no points to search');
    const out = new Float64Array(nq);
    for (let i = 0; i < nq; i++) {
      if (this.hasExact(queries, i * d)) continue; // out[i] = 0
      this.best = Infinity;
      this.search(0);
      out[i] = Math.sqrt(this.best);
    }
    return out;
  }
}
