// The RDP accountant against published test vectors and high-precision quadrature.
// Published vectors: tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
// (test_compute_rdp_scalar, test_compute_rdp_sequence, test_get_privacy_spent_check_target_delta/_eps,
// test_compute_rdp_no_data/_no_sampling) and google/differential-privacy, python/dp_accounting/rdp/
// rdp_privacy_accountant_test.py (test_compute_rdp_poisson_sampled_gaussian, test_compute_epsilon_delta_pure_dp,
// test_compute_epsilon_delta_gaussian, test_delta_bounds_gaussian, test_epsilon_delta_consistency).
// Quadrature goldens (GOLD_LOG_A): log A_α = log ∫ N(z; 0, σ²) ((1 − q) + q e^{(2z − 1)/(2σ²)})^α dz computed with
// mpmath 1.3 (mp.dps = 40, mpmath.quad split at ±20σ, ±5σ, 0, ½, 1), the same definition as those tests'
// `_compute_a_mp`; log erfc goldens from mpmath.erfc at the same precision.
import { describe, expect, it } from 'vitest';
import { NETSHARE_RDP_ORDERS, RdpAccountant, deltaFromRdp, epsilonFromRdp, logA, logErfc, noiseMultiplierFor, rdpSampledGaussian } from '../../src/model/dp-accountant.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

const GOLD_LOG_A: [number, number, number, number][] = [
  [0.1, 2, 5, 0.030947873959183461],
  [0.01, 2.5, 1.5, 6.5007089718803974e-6],
  [0.01, 2.5, 2.5, 3.2562541707543729e-5],
  [0.01, 2.5, 5, 0.00017446052498463047],
  [0.01, 2.5, 50, 0.023369116787932046],
  [0.02, 1.1, 1.25, 7.8335601926160499e-5],
  [0.02, 1.1, 3.5, 0.0023744930595448917],
  [0.02, 1.1, 32, 284.73261920991646],
  [0.005, 0.8, 4.5, 0.00084188957251310539],
  [0.05, 4, 12, 0.010987067411130666],
  [1e-3, 1, 2, 1.7182803522145154e-6],
  [1e-4, 1, 1.5, 6.4426869538366497e-9],
  [0.01, 10, 20, 0.00019129699912842963],
  [0.1, 100, 20.5, 0.00019991818458068296],
];

describe('RDP of the sampled Gaussian mechanism', () => {
  it('log erfc matches mpmath from −3 to 40 (to 1e-12 relative)', () => {
    const gold: [number, number][] = [[-3, 0.69313613525044681], [-0.5, 0.41903914777555958], [0.3, -0.39843005144008527], [1.9, -4.9323458627802689], [2.1, -5.816010968867555], [5, -27.200889545537434], [12.5, -159.35126838238233], [40, -1604.2615566532736]];
    for (const [x, v] of gold) expect(rel(logErfc(x), v), `x = ${x}`).toBeLessThan(1e-12);
    expect(Math.abs(logErfc(0))).toBe(0);
  });

  it('log A_α matches high-precision quadrature to 1e-6 relative, integer and fractional orders', () => {
    for (const [q, s, a, v] of GOLD_LOG_A) expect(rel(logA(q, s, a), v), `q ${q} σ ${s} α ${a}`).toBeLessThan(1e-6);
  });

  it('reproduces tensorflow_privacy rdp_accountant_test: scalar, sequence, no data, no sampling', () => {
    // compute_rdp(0.1, 2, 10, 5) ≈ 0.07737 (places=5)
    expect(Math.abs(rdpSampledGaussian(0.1, 2, [5])[0]! * 10 - 0.07737)).toBeLessThan(5e-6);
    // compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]) ≈ [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307, inf] (delta 1e-5)
    const seq = rdpSampledGaussian(0.01, 2.5, [1.5, 2.5, 5, 50, 100, Infinity]).map((r) => r * 50);
    [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307].forEach((v, i) => expect(Math.abs(seq[i]! - v), `order ${i}`).toBeLessThan(1e-5));
    expect(seq[5]).toBe(Infinity);
    // dp_accounting's test_compute_rdp_poisson_sampled_gaussian, rtol 1e-4
    [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2].forEach((v, i) => expect(rel(seq[i]!, v)).toBeLessThan(1e-4));
    expect(rdpSampledGaussian(0, 10, [20])[0]).toBe(0);
    expect(rdpSampledGaussian(1, 10, [20])[0]).toBe(0.1);
    expect(rdpSampledGaussian(0.5, 0, [2])[0]).toBe(Infinity);
  });

  it('converts RDP to (ε, δ) as both libraries do: pure DP by hand, the exact (1, 1e-6) Gaussian', () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const rdp = orders.map(() => 1.1);
    const e = epsilonFromRdp(orders, rdp, 1e-5);
    expect(rel(e.epsilon, 1.32783806176)).toBeLessThan(1e-9);
    expect(e.order).toBe(32);
    const d = deltaFromRdp(orders, rdp, 1.32783806176);
    expect(rel(d.delta, 1e-5)).toBeLessThan(1e-6);
    expect(d.order).toBe(32);
    // σ = 4.530877117 without subsampling is exactly (1, 1e-6)-DP; orders 1.000 … 99.999 (assertAlmostEqual: 7 places)
    const fine = Array.from({ length: 99000 }, (_, i) => 0.001 * (i + 1000)).filter((a) => a > 1);
    const g = rdpSampledGaussian(1, 4.530877117, fine);
    expect(Math.abs(epsilonFromRdp(fine, g, 1e-6).epsilon - 1)).toBeLessThan(5e-7);
    expect(Math.abs(deltaFromRdp(fine, g, 1).delta - 1e-6)).toBeLessThan(5e-8);
  });

  it('is an upper bound on the optimal Gaussian δ and below the standard bound (dp_accounting test_delta_bounds_gaussian)', () => {
    const orders = Array.from({ length: 495 }, (_, x) => 0.1 * (x + 10)).filter((a) => a > 1);
    const rdp = rdpSampledGaussian(1, 1, orders);
    const erfc = (x: number): number => Math.exp(logErfc(x));
    for (let k = 0; k < 500; k += 7) {
      const eps = 0.1 * k;
      const { delta } = deltaFromRdp(orders, rdp, eps);
      const delta0 = erfc((eps - 0.5) / Math.SQRT2) / 2 - (Math.exp(eps) * erfc((eps + 0.5) / Math.SQRT2)) / 2;
      expect(delta0).toBeLessThanOrEqual(delta + 1e-300);
      const delta1 = eps >= 0.5 ? Math.exp(-0.5 * (eps - 0.5) ** 2) : 1;
      expect(delta).toBeLessThanOrEqual(delta1 + 1e-300);
    }
  });

  it('ε and δ conversions are consistent (dp_accounting test_epsilon_delta_consistency)', () => {
    const orders = Array.from({ length: 48 }, (_, i) => i + 2);
    for (const q of [0.01, 0.1, 0.8, 1]) {
      for (const sigma of [0.1, 1, 10, 100]) {
        const acc = new RdpAccountant(orders).compose({ label: 'x', q, sigma, steps: 1 });
        for (const delta of [0.9, 0.1, 0.01, 1e-3, 1e-5, 1e-9, 1e-12]) {
          const { epsilon } = acc.epsilon(delta);
          const d2 = acc.delta(epsilon).delta;
          if (epsilon === 0) expect(d2).toBeLessThanOrEqual(delta * (1 + 1e-9));
          else expect(rel(d2, delta), `q ${q} σ ${sigma} δ ${delta}`).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('composes by adding RDP: two critics on one batch cost as one mechanism at σ/√2 when q = 1', () => {
    const a = new RdpAccountant().compose({ label: 'D', q: 0.01, sigma: 1.2, steps: 300 }).compose({ label: 'attr-D', q: 0.01, sigma: 1.2, steps: 300 });
    const b = new RdpAccountant().compose({ label: 'both', q: 0.01, sigma: 1.2, steps: 600 });
    a.rdp().forEach((r, i) => expect(rel(r, b.rdp()[i]!)).toBeLessThan(1e-12));
    const c = new RdpAccountant().compose({ label: 'D', q: 1, sigma: 2, steps: 1 }).compose({ label: 'attr-D', q: 1, sigma: 2, steps: 1 });
    const h = new RdpAccountant().compose({ label: 'halved', q: 1, sigma: 2 / Math.SQRT2, steps: 1 });
    c.rdp().forEach((r, i) => expect(rel(r, h.rdp()[i]!)).toBeLessThan(1e-12));
    expect(a.ledger().map((e) => e.label)).toEqual(['D', 'attr-D']);
    expect(NETSHARE_RDP_ORDERS.length).toBe(10 + 59 + 3);
  });

  it('finds the noise multiplier for a target ε, and more steps need more noise', () => {
    const mech = [{ q: 0.01, steps: 2000 }];
    const s1 = noiseMultiplierFor(1, 1e-5, mech);
    const acc = new RdpAccountant().compose({ label: '', q: 0.01, sigma: s1, steps: 2000 });
    expect(acc.epsilon(1e-5).epsilon).toBeLessThanOrEqual(1);
    expect(acc.epsilon(1e-5).epsilon).toBeGreaterThan(0.99);
    expect(noiseMultiplierFor(1, 1e-5, [{ q: 0.01, steps: 8000 }])).toBeGreaterThan(s1);
    expect(noiseMultiplierFor(10, 1e-5, mech)).toBeLessThan(s1);
  });
});
