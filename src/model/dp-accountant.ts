// The RDP accountant of DP training (spec §3.5): Rényi DP of the Poisson-subsampled Gaussian mechanism (Mironov,
// Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"), composed by adding RDP per
// order, converted to (ε, δ) with the bound of Canonne, Kamath, Steinke 2020 (Prop. 12) / Asoodeh et al. 2020 — the
// conversion tensorflow_privacy's rdp_accountant and google's dp_accounting use. Pure numbers: no tensors, no I/O.

/** NetShare's RDP orders (spec §3.5): 1.25 … 4.5, 5 … 63, 128, 256, 512. */
export const NETSHARE_RDP_ORDERS: readonly number[] = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, i) => 5 + i), 128, 256, 512];

/** log(e^a + e^b) without overflow. */
function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === -Infinity) return -Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^a − e^b) for a ≥ b (−∞ when equal). */
function logSub(a: number, b: number): number {
  if (b > a) throw new RangeError(`logSub: the result is negative (log ${a} − log ${b})`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const d = b - a;
  // log(1 − e^d), accurate for d near 0 and for d very negative
  return a + (d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d)));
}

/**
 * log erfc(x) for every real x, to ~1e-14 relative: the Maclaurin series of erf for |x| ≤ 2, the continued fraction of
 * erfc (modified Lentz) above, whose log is taken in two pieces so that erfc(40) (~1e-697) does not underflow.
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  if (Math.abs(x) <= 2) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.log1p(-(2 / Math.sqrt(Math.PI)) * sum);
  }
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    D = x + a * D;
    if (D === 0) D = tiny;
    C = x + a / C;
    if (C === 0) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - 0.5 * Math.log(Math.PI) - Math.log(f);
}

/** log A_α for integer α (Mironov et al. 2019, Sec. 3.3): a finite binomial sum. */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  let logBinom = 0; // log binom(α, i), updated term by term: binom(α, i) = binom(α, i − 1) · (α − i + 1) / i
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const c = logBinom + i * Math.log(q) + (alpha - i) * Math.log1p(-q);
    logA = logAdd(logA, c + (i * i - i) / (2 * sigma * sigma));
  }
  return logA;
}

/** log A_α for fractional α (Mironov et al. 2019, Sec. 3.3): two alternating series, summed until negligible. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let logCoef = 0; // log |binom(α, i)| and its sign, updated term by term
  let sign = 1;
  for (let i = 0; i < 100_000; i++) {
    if (i > 0) {
      const f = alpha - i + 1; // never 0: α is not an integer
      if (f < 0) sign = -sign;
      logCoef += Math.log(Math.abs(f)) - Math.log(i);
    }
    const j = alpha - i;
    const logT0 = logCoef + i * Math.log(q) + j * Math.log1p(-q);
    const logT1 = logCoef + j * Math.log(q) + i * Math.log1p(-q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else if (sign < 0) {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** log A_α of the sampled Gaussian mechanism (exported for the tests' quadrature check). */
export function logA(q: number, sigma: number, alpha: number): number {
  return Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
}

/**
 * RDP at each order of ONE step of the Poisson-subsampled Gaussian mechanism: sampling rate q, noise multiplier σ
 * (noise std / clipping norm). q = 0 → 0; σ = 0 → ∞; q = 1 → α / (2σ²) (the plain Gaussian mechanism).
 */
export function rdpSampledGaussian(q: number, sigma: number, orders: readonly number[]): number[] {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sampling rate q must be in [0, 1], got ${q}`);
  if (!(sigma >= 0)) throw new RangeError(`noise multiplier must be ≥ 0, got ${sigma}`);
  return orders.map((alpha) => {
    if (!(alpha > 1)) throw new RangeError(`RDP orders must be > 1, got ${alpha}`);
    if (q === 0) return 0;
    if (sigma === 0) return Infinity;
    if (q === 1) return alpha / (2 * sigma * sigma);
    if (alpha === Infinity) return Infinity;
    return logA(q, sigma, alpha) / (alpha - 1);
  });
}

/** The smallest of `bound(order, rdp)` over the orders (checked: one RDP value ≥ 0 per order), and its order. */
function bestOverOrders(orders: readonly number[], rdp: readonly number[], bound: (a: number, r: number) => number): { value: number; order: number } {
  if (orders.length !== rdp.length || orders.length === 0) throw new RangeError('one RDP value per order is needed');
  let value = Infinity;
  let order = orders[0]!;
  orders.forEach((a, k) => {
    const r = rdp[k]!;
    if (r < 0) throw new RangeError(`RDP must be ≥ 0, got ${r} at order ${a}`);
    const v = bound(a, r);
    if (v < value) {
      value = v;
      order = a;
    }
  });
  return { value, order };
}

/** (ε, δ) from RDP: the smallest ε over the orders for this δ, and the order that gives it. */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`δ must be in (0, 1), got ${delta}`);
  const { value, order } = bestOverOrders(orders, rdp, (a, r) => {
    if (delta * delta + Math.expm1(-r) >= 0) return 0; // bounded through the KL divergence: δ ≤ √(1 − e^{−KL})
    if (a > 1.01) return r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    return Infinity; // the bound does not hold below 1.01
  });
  return { epsilon: Math.max(0, value), order };
}

/** δ from RDP for a target ε: the smallest over the orders, and the order that gives it. */
export function deltaFromRdp(orders: readonly number[], rdp: readonly number[], epsilon: number): { delta: number; order: number } {
  if (!(epsilon >= 0)) throw new RangeError(`ε must be ≥ 0, got ${epsilon}`);
  const { value, order } = bestOverOrders(orders, rdp, (a, r) => {
    const kl = 0.5 * Math.log1p(-Math.exp(-r));
    return a > 1.01 ? Math.min(kl, (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a)) : kl;
  });
  return { delta: Math.min(Math.exp(value), 1), order };
}

/** One composed mechanism: `steps` runs of the sampled Gaussian with rate q and multiplier σ. */
export interface RdpEntry {
  /** What it is, e.g. `chunk 3: feature critic` or `chunk 0: noisy flow count`. */
  label: string;
  q: number;
  sigma: number;
  steps: number;
}

/** Composes sampled-Gaussian steps (RDP adds per order) and converts the total to (ε, δ). */
export class RdpAccountant {
  private readonly total: number[];
  private readonly entries: RdpEntry[] = [];

  constructor(readonly orders: readonly number[] = NETSHARE_RDP_ORDERS) {
    if (orders.length === 0) throw new RangeError('at least one RDP order is needed');
    this.total = orders.map(() => 0);
  }

  /** Adds `steps` steps of the Poisson-subsampled Gaussian mechanism (q = 1: the plain Gaussian mechanism). */
  compose(entry: RdpEntry): this {
    if (!(Number.isInteger(entry.steps) && entry.steps >= 0)) throw new RangeError(`steps must be an integer ≥ 0, got ${entry.steps}`);
    const one = rdpSampledGaussian(entry.q, entry.sigma, this.orders);
    one.forEach((r, k) => (this.total[k] = this.total[k]! + r * entry.steps));
    this.entries.push({ ...entry });
    return this;
  }

  /** The composed RDP per order. */
  rdp(): number[] {
    return [...this.total];
  }

  ledger(): RdpEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  epsilon(delta: number): { epsilon: number; order: number } {
    return epsilonFromRdp(this.orders, this.total, delta);
  }

  delta(epsilon: number): { delta: number; order: number } {
    return deltaFromRdp(this.orders, this.total, epsilon);
  }
}

/**
 * The smallest noise multiplier σ (to 0.1% relative) whose composition of `mechanisms` (each a number of steps at a
 * rate q; all at the same σ), plus the `fixed` mechanisms at their own σ (e.g. a noisy count), stays within (ε, δ). Throws when even σ =
 * `maxSigma` (default 1e4) does not reach it.
 */
export function noiseMultiplierFor(
  targetEpsilon: number,
  delta: number,
  mechanisms: readonly { q: number; steps: number }[],
  orders: readonly number[] = NETSHARE_RDP_ORDERS,
  fixed: readonly RdpEntry[] = [],
  maxSigma = 1e4,
): number {
  if (!(targetEpsilon > 0)) throw new RangeError(`target ε must be > 0, got ${targetEpsilon}`);
  const eps = (sigma: number): number => {
    const acc = new RdpAccountant(orders);
    for (const f of fixed) acc.compose(f);
    for (const m of mechanisms) acc.compose({ label: '', q: m.q, sigma, steps: m.steps });
    return acc.epsilon(delta).epsilon;
  };
  let hi = 1;
  while (eps(hi) > targetEpsilon) {
    hi *= 2;
    if (hi > maxSigma) throw new RangeError(`no noise multiplier up to ${maxSigma} reaches ε = ${targetEpsilon} at δ = ${delta} for these steps`);
  }
  let lo = hi / 2;
  while (lo > 1e-3 && eps(lo) <= targetEpsilon) lo /= 2;
  while ((hi - lo) / hi > 1e-3) {
    const mid = (lo + hi) / 2;
    if (eps(mid) <= targetEpsilon) hi = mid;
    else lo = mid;
  }
  return hi;
}
