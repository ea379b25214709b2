// FlowChronicle's scale-free numbers: exact-value JS distance and histogram EMD equal scipy/numpy's on fixed samples,
// and evaluateTables reports them for the synthetic trace next to the real reference, with their ratio.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { evaluateTables } from '../../src/eval/evaluate-tables.js';
import { exactJsDistance, histogramEmd } from '../../src/eval/flowchronicle.js';
import { makeFlows, makePackets } from './helpers.js';

describe('FlowChronicle metrics', () => {
  it('equal scipy.spatial.distance.jensenshannon and metrics.py compute_WD (numpy bins="fd") on fixed samples', () => {
    // Expected values: FlowChronicle's formulas run in Python (numpy 2.4, scipy 1.17) on these same arrays
    // (integer dtype for the integer samples, as pandas reads them).
    const r = new Rng(3, 'x');
    const mk = (n: number, f: () => number): Float64Array => Float64Array.from({ length: n }, f);
    const a1 = mk(5000, () => Math.floor(-Math.log(1 - r.next()) * 300));
    const b1 = mk(3000, () => Math.floor(-Math.log(1 - r.next()) * 350));
    const a2 = mk(4000, () => r.next() * 12.5);
    const b2 = mk(4000, () => r.next() * 14 - 1);
    const a3 = mk(2000, () => [6, 17, 1][Math.floor(r.next() * 3)]!);
    const b3 = mk(2500, () => [6, 17, 47][Math.floor(r.next() * 3)]!);
    const a4 = mk(3000, () => Math.floor(Math.exp(r.next() * 20)));
    const b4 = mk(3000, () => Math.floor(Math.exp(r.next() * 19)));
    expect(exactJsDistance(a3, b3)).toBeCloseTo(0.48281934796152026, 12);
    expect(exactJsDistance(a1, b1)).toBeCloseTo(0.32065191342314636, 12);
    expect(histogramEmd(a1, b1, true)).toBeCloseTo(0.014437810945273636, 12);
    expect(histogramEmd(a2, b2, false)).toBeCloseTo(0.03682352941176469, 12);
    expect(histogramEmd(a4, b4, true)).toBeCloseTo(0.03468520859671302, 12);
    expect(histogramEmd(a3, a3, true)).toBe(0);
    expect(exactJsDistance(a3, a3)).toBe(0);
  });

  it('evaluateTables scores every method and the real reference at one size, as a ratio to the reference', () => {
    const real = makeFlows(3000, 1);
    const { result } = evaluateTables(real, makeFlows(1200, 2), { seed: 2, baselines: ['marginals'], downstream: false, privacy: false });
    const fc = result.flowChronicle!;
    expect(fc.referenceSource).toBe('time-split');
    expect(fc.unit).toBe('records');
    expect(fc.size).toBe(1200);
    expect(fc.jsdFields).toEqual(['proto', 'srcip', 'dstip', 'dstport']); // no tcp flags in the fixture
    for (const m of result.methods) {
      const s = m.flowChronicle!;
      expect(s.ratio.jsd).toBeCloseTo(s.jsd / fc.reference.jsd, 12);
      expect(s.jsd).toBeCloseTo((s.perField.proto! + s.perField.srcip! + s.perField.dstip! + s.perField.dstport!) / 4, 12);
      expect(s.emd).toBeCloseTo((s.perField.pkt! + s.perField.byt! + s.perField.td!) / 3, 12);
    }
    // With a holdout, both the synthetic trace and the real (training) trace are scored against it.
    const held = evaluateTables(real, makeFlows(800, 2), { seed: 2, holdout: makeFlows(900, 3), downstream: false, privacy: false }).result.flowChronicle!;
    expect(held.referenceSource).toBe('holdout-file');
    expect(held.size).toBe(800);
  });

  it('scores packet traces per 5-tuple flow', () => {
    const { result } = evaluateTables(makePackets(600, 1), makePackets(300, 2), { seed: 1, downstream: false, privacy: false });
    expect(result.flowChronicle!.unit).toBe('flows');
    expect(result.flowChronicle!.jsdFields).toContain('tcp_flags');
  });
});
