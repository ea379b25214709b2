// Statistical primitives of the evaluation: JS divergence/distance, 1-D Wasserstein (EMD), rank-frequency,
// Spearman correlation, 2-D binned JSD. Pure functions on typed arrays; no I/O.
import { InputError } from '../errors.js';

/** Which Jensen-Shannon quantity to report: NetShare's paper code squares scipy's distance (divergence). */
export type JsVariant = 'divergence' | 'distance';

/**
 * Jensen-Shannon divergence with natural log between two non-negative count/weight vectors of equal length,
 * each normalised to sum 1 first — `scipy.spatial.distance.jensenshannon(p, q) ** 2`. In [0, ln 2].
 * With `variant: 'distance'` returns its square root (scipy's value as is; NetShare master).
 */
export function jsd(p: ArrayLike<number>, q: ArrayLike<number>, variant: JsVariant = 'divergence'): number {
  if (p.length !== q.length) throw new InputError(`jsd: vectors differ in length (${p.length} vs ${q.length})`);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  if (!(sp > 0) || !(sq > 0)) throw new InputError('jsd: a distribution is empty (all counts zero)');
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! / sp;
    const b = q[i]! / sq;
    const m = (a + b) / 2;
    if (a > 0) acc += a * Math.log(a / m);
    if (b > 0) acc += b * Math.log(b / m);
  }
  const d = Math.max(0, acc / 2);
  return variant === 'distance' ? Math.sqrt(d) : d;
}

/** Count of each integer value in [0, bins): values outside are clipped to the range (NetShare clips ports). */
export function histogramInt(values: ArrayLike<number>, bins: number): Float64Array {
  const h = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) {
    let v = Math.round(values[i]!);
    if (v < 0) v = 0;
    else if (v >= bins) v = bins - 1;
    h[v]! += 1;
  }
  return h;
}

/** Counts of each distinct value, sorted descending (the popularity-rank distribution). */
export function rankFrequency(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  if (n === 0) return new Float64Array(0);
  // Addresses: count with a hash table, then sort only the (far fewer) counts.
  if (values instanceof Uint32Array) return countDistinctU32(values).sort().reverse();
  const sorted = toFloat64(values).sort();
  const counts = new Float64Array(n);
  let k = 0;
  let run = 1;
  for (let i = 1; i < n; i++) {
    if (sorted[i] === sorted[i - 1]) run++;
    else {
      counts[k++] = run;
      run = 1;
    }
  }
  counts[k++] = run;
  return counts.subarray(0, k).sort().reverse();
}

/** JSD of two rank-frequency vectors, zero-padded to equal length (identity of the values is ignored). */
export function rankJsd(a: Float64Array, b: Float64Array, variant: JsVariant = 'divergence'): number {
  const n = Math.max(a.length, b.length);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  p.set(a);
  q.set(b);
  return jsd(p, q, variant);
}

/** Float64 copy; typed arrays convert natively (Float64Array.from would walk an iterator). */
function toFloat64(values: ArrayLike<number>): Float64Array {
  return ArrayBuffer.isView(values) ? new Float64Array(values as unknown as Float64Array) : Float64Array.from(values);
}

/**
 * Ascending sorted copy as Float64Array (NaN rejected by the caller's validation). Already-sorted input (packet
 * times) is only copied; small non-negative integers (lengths, counts) are counting-sorted in O(n).
 */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = toFloat64(values);
  const n = out.length;
  let sorted = true;
  let ints = true;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = out[i]!;
    if (i > 0 && v < out[i - 1]!) sorted = false;
    if (ints && v !== Math.floor(v)) ints = false;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (sorted) return out;
  if (ints && lo >= 0 && hi < 1 << 21 && hi < 4 * n) {
    const count = new Int32Array(hi + 1);
    for (let i = 0; i < n; i++) count[out[i]!]!++;
    let k = 0;
    for (let v = 0; v <= hi; v++) for (let c = count[v]!; c > 0; c--) out[k++] = v;
    return out;
  }
  return out.sort();
}

/** Occurrences of each distinct uint32 value (open addressing), unordered. */
function countDistinctU32(values: Uint32Array): Float64Array {
  const n = values.length;
  let cap = 16;
  while (cap < n * 2) cap <<= 1;
  const mask = cap - 1;
  const keys = new Uint32Array(cap);
  const counts = new Float64Array(cap);
  let zero = 0; // the value 0 is counted apart so that key 0 can mean "empty"
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === 0) {
      zero++;
      continue;
    }
    let h = Math.imul(v, 0x9e3779b1);
    h = (h ^ (h >>> 15)) & mask;
    while (keys[h] !== 0 && keys[h] !== v) h = (h + 1) & mask;
    if (keys[h] === 0) {
      keys[h] = v;
      distinct++;
    }
    counts[h]! += 1;
  }
  const out = new Float64Array(distinct + (zero > 0 ? 1 : 0));
  let k = 0;
  for (let s = 0; s < cap; s++) if (counts[s]! > 0) out[k++] = counts[s]!;
  if (zero > 0) out[k] = zero;
  return out;
}

/**
 * Wasserstein-1 distance between the empirical distributions of two samples (equal weights), exact:
 * ∫|F_u(x) − F_v(x)| dx over the merged sorted support — `scipy.stats.wasserstein_distance(u, v)`.
 * Takes ASCENDING SORTED arrays.
 */
export function emdSorted(u: Float64Array, v: Float64Array): number {
  const n = u.length;
  const m = v.length;
  if (n === 0 || m === 0) throw new InputError('emd: a sample is empty');
  let i = 0;
  let j = 0;
  let prev = Math.min(u[0]!, v[0]!);
  let total = 0;
  // Walk the merged support; between consecutive support points both CDFs are constant.
  while (i < n || j < m) {
    const x = j >= m || (i < n && u[i]! <= v[j]!) ? u[i]! : v[j]!;
    total += Math.abs(i / n - j / m) * (x - prev);
    prev = x;
    while (i < n && u[i] === x) i++;
    while (j < m && v[j] === x) j++;
  }
  return total;
}

/** EMD of two unsorted samples. */
export function emd(u: ArrayLike<number>, v: ArrayLike<number>): number {
  return emdSorted(sortedCopy(u), sortedCopy(v));
}

/** Average ranks (1-based, ties share their mean rank), as scipy.stats.rankdata. */
export function rankData(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const idx = argsort(values);
  const r = new Float64Array(n);
  let k = 0;
  while (k < n) {
    let e = k;
    while (e + 1 < n && values[idx[e + 1]!] === values[idx[k]!]) e++;
    const avg = (k + e) / 2 + 1;
    for (let t = k; t <= e; t++) r[idx[t]!] = avg;
    k = e + 1;
  }
  return r;
}

/** Pearson correlation; NaN when either side is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]! - mx;
    const b = y[i]! - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

/** Spearman rank correlation (Pearson of average ranks); NaN when a side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new InputError('spearman: vectors differ in length');
  if (x.length < 2) return Number.NaN;
  return pearson(rankData(x), rankData(y));
}

/** Edges of `bins` equal-width bins over [lo, hi]. */
function binOf(v: number, lo: number, hi: number, bins: number): number {
  if (!(hi > lo)) return 0;
  const b = Math.floor(((v - lo) / (hi - lo)) * bins);
  return b < 0 ? 0 : b >= bins ? bins - 1 : b;
}

/**
 * JSD of two 2-D samples binned on a shared bins×bins grid spanning the REAL sample's range per axis
 * (synthetic values outside it are clipped into the edge bins, so mass outside the real range still counts).
 */
export function jsd2d(
  realX: ArrayLike<number>,
  realY: ArrayLike<number>,
  synX: ArrayLike<number>,
  synY: ArrayLike<number>,
  bins = 20,
  variant: JsVariant = 'divergence',
): number {
  const range = (a: ArrayLike<number>): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  };
  const [xl, xh] = range(realX);
  const [yl, yh] = range(realY);
  const fill = (xs: ArrayLike<number>, ys: ArrayLike<number>): Float64Array => {
    const h = new Float64Array(bins * bins);
    for (let i = 0; i < xs.length; i++) h[binOf(xs[i]!, xl, xh, bins) * bins + binOf(ys[i]!, yl, yh, bins)]! += 1;
    return h;
  };
  return jsd(fill(realX, realY), fill(synX, synY), variant);
}

/**
 * Map each value to [0.1, 0.9] linearly across the compared methods (the papers' per-field EMD plot
 * normalisation): min → 0.1, max → 0.9; all equal → 0.5. Non-finite values stay null.
 */
export function normaliseAcross(values: (number | null)[]): (number | null)[] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) return values.map(() => null);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return values.map((v) => (v === null || !Number.isFinite(v) ? null : hi > lo ? 0.1 + (0.8 * (v - lo)) / (hi - lo) : 0.5));
}

/** Empirical CDF downsampled to at most `points` (x, F(x)) pairs at evenly spaced quantiles (for plots). */
export function cdfPoints(sorted: Float64Array, points = 200): [number, number][] {
  const n = sorted.length;
  if (n === 0) return [];
  const out: [number, number][] = [];
  const k = Math.min(points, n);
  for (let t = 0; t < k; t++) {
    const idx = k === 1 ? n - 1 : Math.round((t * (n - 1)) / (k - 1));
    out.push([sorted[idx]!, (idx + 1) / n]);
  }
  return out;
}

/**
 * Stable argsort of float64 keys (ascending; -0 before +0, NaN last) by LSD radix sort on the IEEE-754 bit
 * patterns, 16 bits per pass: O(n), no comparator calls, so millions of keys sort in tens of milliseconds.
 */
export function argsort(values: ArrayLike<number>): Int32Array {
  const n = values.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  // Little-endian: u[0] low word, u[1] high word. Map to an unsigned order-preserving key.
  for (let i = 0; i < n; i++) {
    f[0] = values[i]!;
    let h = u[1]!;
    let l = u[0]!;
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    hi[i] = h;
    lo[i] = l;
  }
  // Keys travel with the indices so every pass reads sequentially.
  let idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let tIdx = new Int32Array(n);
  let kh = hi;
  let kl = lo;
  let th = new Uint32Array(n);
  let tl = new Uint32Array(n);
  const count = new Int32Array(65536);
  const pass = (useHi: boolean, shift: number): void => {
    const word = useHi ? kh : kl;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(word[i]! >>> shift) & 0xffff]!++;
    // Skip a pass whose digit is constant (common for the high words of timestamps).
    if (count[(word[0]! >>> shift) & 0xffff] === n) return;
    let sum = 0;
    for (let b = 0; b < 65536; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const dst = count[(word[i]! >>> shift) & 0xffff]!++;
      tIdx[dst] = idx[i]!;
      th[dst] = kh[i]!;
      tl[dst] = kl[i]!;
    }
    [idx, tIdx] = [tIdx, idx];
    [kh, th] = [th, kh];
    [kl, tl] = [tl, kl];
  };
  pass(false, 0);
  pass(false, 16);
  pass(true, 0);
  pass(true, 16);
  return idx;
}
