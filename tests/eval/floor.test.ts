// The equal-size floor: subset profiles equal profiles of the materialised rows, draws are disjoint, seeded and of
// the documented size, and evaluateTables reports K-split floors with their spread and the headline median ratio.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { evaluateTables, ratio, resolvedFloor } from '../../src/eval/evaluate-tables.js';
import { fmtRatio, keepInfinity, ratioClass, renderReport } from '../../src/eval/report.js';
import { compareProfiles, NETSHARE_METRICS, ProfileSource, profile, type Profile } from '../../src/eval/fidelity.js';
import { comparisonSize, flowSplitDraw, idealGeneratorSplit, median, timeHalves, timeSplitDraw } from '../../src/eval/floor.js';
import { indexFlows } from '../../src/eval/flows.js';
import { takeRows } from '../../src/io/rows.js';
import type { Table } from '../../src/io/table.js';
import { makeFlows, makePackets, testRng } from './helpers.js';

function rowsOf(src: ProfileSource, flows: number[]): Int32Array {
  const keep = new Uint8Array(src.flows);
  for (const f of flows) keep[f] = 1;
  const rows: number[] = [];
  for (let i = 0; i < src.records; i++) if (keep[src.flowIndex.flowOf[i]!]) rows.push(i);
  return Int32Array.from(rows);
}

function plain(p: Profile): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v instanceof Map ? [...v.entries()] : v)));
}

function checkSubsets(t: Table, jointSample: number): void {
  const src = new ProfileSource(t, { seed: 3, jointSample });
  const r = testRng(11);
  for (const share of [0.05, 0.5, 0.9]) {
    const flows: number[] = [];
    for (let f = 0; f < src.flows; f++) if (r() < share) flows.push(f);
    const viaSource = src.profile(Int32Array.from(flows));
    const direct = profile(takeRows(t, rowsOf(src, flows)), { seed: 3, jointSample });
    expect(plain(viaSource), `share ${share}`).toEqual(plain(direct));
  }
  expect(plain(src.profile())).toEqual(plain(profile(t, { seed: 3, jointSample })));
}

describe('ProfileSource: a flow selection profiles exactly as its materialised rows', () => {
  it('packets (IPv6 rows included; joint sample capped)', () => {
    const t = makePackets(600, 4);
    // Turn every 7th flow's packets into IPv6 rows with distinct 16-byte addresses.
    const v6 = takeRows(t, Int32Array.from({ length: t.length }, (_, i) => i));
    const src6 = new Uint8Array(16 * v6.length);
    const dst6 = new Uint8Array(16 * v6.length);
    for (let i = 0; i < v6.length; i++) {
      if (v6.srcIp[i]! % 7 !== 0) continue;
      v6.ipVersion[i] = 6;
      src6[16 * i] = 0x20;
      src6[16 * i + 15] = v6.srcIp[i]! & 255;
      dst6[16 * i] = 0x20;
      dst6[16 * i + 14] = v6.dstIp[i]! & 255;
      v6.srcIp[i] = 0;
      v6.dstIp[i] = 0;
    }
    v6.srcIp6 = src6;
    v6.dstIp6 = dst6;
    checkSubsets(t, 200_000);
    checkSubsets(v6, 150);
  });
  it('NetFlow (joint sample capped and not)', () => {
    const t = makeFlows(4000, 5);
    checkSubsets(t, 200_000);
    checkSubsets(t, 300);
  });
});

describe('equal-size draws', () => {
  it('comparison size is min(synthetic flows, ⌊real flows / 2⌋)', () => {
    expect(comparisonSize(1001, 300)).toBe(300);
    expect(comparisonSize(1001, 900)).toBe(500);
    expect(comparisonSize(1, 10)).toBe(0);
  });
  it('a flow-split draw is two disjoint ascending samples of n flows, seeded by (seed, k)', () => {
    const [a, b] = flowSplitDraw(100, 30, 7, 2);
    expect(a.length).toBe(30);
    expect(b.length).toBe(30);
    expect(new Set([...a, ...b]).size).toBe(60);
    for (const s of [a, b]) for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThan(s[i - 1]!);
    expect(Array.from(flowSplitDraw(100, 30, 7, 2)[0])).toEqual(Array.from(a));
    expect(Array.from(flowSplitDraw(100, 30, 7, 3)[0])).not.toEqual(Array.from(a));
    expect(() => flowSplitDraw(10, 6, 1, 0)).toThrow(RangeError);
  });
  it('the time split compares early flows with late ones; whole halves at half size', () => {
    const starts = Float64Array.from({ length: 11 }, (_, i) => 100 - i); // flow 10 starts first
    const halves = timeHalves(starts);
    expect(Array.from(halves[0])).toEqual([10, 9, 8, 7, 6]);
    expect(Array.from(halves[1])).toEqual([4, 3, 2, 1, 0]);
    expect(Array.from(timeSplitDraw(halves, 5, 1, 0)[0])).toEqual([6, 7, 8, 9, 10]);
    const [e, l] = timeSplitDraw(halves, 3, 1, 0);
    expect(e.length).toBe(3);
    for (const f of e) expect(f).toBeGreaterThanOrEqual(6);
    for (const f of l) expect(f).toBeLessThanOrEqual(4);
  });
  it('median of the defined values', () => {
    expect(median([3, null, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([null, undefined])).toBeNull();
  });
  it('the ideal generator takes about a third of the flows, never cutting one', () => {
    const t = makePackets(900, 3);
    const idx = indexFlows(t);
    const s = idealGeneratorSplit(t, 5, idx);
    expect(s.real.length + s.synthetic.length).toBe(t.length);
    const synFlows = new Set(Array.from(s.synthetic, (i) => idx.flowOf[i]!));
    for (const i of s.real) expect(synFlows.has(idx.flowOf[i]!)).toBe(false);
    expect(synFlows.size / idx.count).toBeGreaterThan(0.28);
    expect(synFlows.size / idx.count).toBeLessThan(0.39);
  });
});

describe('evaluateTables: floors over K equal-size splits', () => {
  it('floor = mean of K draws of two disjoint real samples of the comparison size; metrics and ratios at that size', () => {
    const real = makeFlows(4000, 1);
    const syn = makeFlows(1000, 2);
    const n = indexFlows(syn).count;
    expect(n).toBeLessThan(indexFlows(real).count / 2);
    const { result } = evaluateTables(real, syn, { seed: 3, floorSplits: 4, downstream: false, privacy: false });
    const c = result.comparison;
    expect(c).toEqual({ unit: 'flows', size: n, floorSplits: 4, timeDraws: 4, ratioSplit: 'flows' });
    // Recompute draw by draw from the documented streams.
    const src = new ProfileSource(real, { seed: 3 });
    const synP = profile(syn, { seed: 3 });
    const floors: number[] = [];
    const values: number[] = [];
    for (let k = 0; k < 4; k++) {
      const [a, b] = flowSplitDraw(src.flows, n, 3, k);
      const pa = src.profile(a);
      floors.push(compareProfiles(pa, src.profile(b)).td!);
      values.push(compareProfiles(pa, synP).td!);
    }
    const mean = (v: number[]): number => v.reduce((x, y) => x + y, 0) / v.length;
    expect(result.floors.flows.td).toBeCloseTo(mean(floors), 12);
    const sd = Math.sqrt(floors.reduce((a, v) => a + (v - mean(floors)) ** 2, 0) / 3);
    expect(result.floorSpread.flows.td!.min).toBe(Math.min(...floors));
    expect(result.floorSpread.flows.td!.max).toBe(Math.max(...floors));
    expect(result.floorSpread.flows.td!.sd).toBeCloseTo(sd, 12);
    const s = result.methods[0]!;
    expect(s.metrics.td).toBeCloseTo(mean(values), 12);
    expect(s.ratios.td).toBeCloseTo(mean(values) / mean(floors), 12);
    expect(s.comparedFlows).toBe(n);
    expect(s.metricsWhole.td).toBeCloseTo(compareProfiles(profile(real, { seed: 3 }), synP).td!, 12);
    expect(result.headline.metrics).toEqual(NETSHARE_METRICS.flows);
    expect(s.headline).toBe(median(NETSHARE_METRICS.flows.map((m) => s.ratios[m])));
    for (const [m, r] of Object.entries(result.floorSpread.time)) if (r) expect(r.min, m).toBeLessThanOrEqual(result.floors.time[m]!);
  });
  it('subsamples a synthetic side larger than half the real trace, and uses whole time halves', () => {
    const real = makeFlows(2000, 1);
    const n = Math.floor(indexFlows(real).count / 2);
    const { result } = evaluateTables(real, makeFlows(3000, 2), { seed: 1, floorSplits: 2, downstream: false, privacy: false });
    expect(result.comparison.size).toBe(n);
    expect(result.comparison.timeDraws).toBe(1);
    expect(result.methods[0]!.comparedFlows).toBe(n);
    expect(result.methods[0]!.metricsSpread.byt!.max).toBeGreaterThan(result.methods[0]!.metricsSpread.byt!.min);
  });
  it('rejects a floor-splits count outside [1, 100]', () => {
    expect(() => evaluateTables(makeFlows(100), makeFlows(100), { floorSplits: 0 })).toThrow(ConfigError);
    expect(() => evaluateTables(makeFlows(100), makeFlows(100), { floorSplits: 1.5 })).toThrow(/floorSplits/);
  });
});

describe('a real-vs-real floor of 0', () => {
  it('ratio: 1 when the synthetic metric is 0 too, Infinity when it is not, null only without a floor', () => {
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(0.25, 0)).toBe(Infinity);
    expect(ratio(0.5, 0.25)).toBe(2);
    expect(ratio(0.5, null)).toBeNull();
    expect(ratio(null, 0.1)).toBeNull();
    expect(fmtRatio(Infinity)).toBe('∞×');
    expect(fmtRatio(null)).toBe('n/a');
    expect(ratioClass(Infinity, 'packets', 'ttl_const_diff')).toBe('poor');
    expect(JSON.parse(JSON.stringify({ r: Infinity, s: 2 }, keepInfinity))).toEqual({ r: 'Infinity', s: 2 });
  });

  it('a share metric is read against at least 1/n (n flows compared): its resolution, not a floor of exactly 0', () => {
    expect(resolvedFloor('ttl_const_diff', 0, 2000)).toBe(1 / 2000);
    expect(resolvedFloor('tos_const_diff', 0.01, 2000)).toBe(0.01);
    expect(resolvedFloor('srcip', 0, 2000)).toBe(0);
    expect(resolvedFloor('ttl_const_diff', null, 2000)).toBeNull();
    // one odd synthetic flow in 2,000 is 1×, not ∞×; a quarter of them is 500×
    expect(ratio(1 / 2000, resolvedFloor('ttl_const_diff', 0, 2000))).toBe(1);
    expect(ratio(0.25, resolvedFloor('ttl_const_diff', 0, 2000))).toBe(500);
  });

  it('a synthetic trace whose TTL varies inside flows fails ttl_const_diff where every real flow keeps its TTL', () => {
    const real = makePackets(1500, 1);
    const syn = makePackets(1500, 2);
    // every packet of a multi-packet synthetic flow gets its own TTL
    for (let i = 0; i < syn.length; i++) syn.ttl[i] = 32 + (i % 7);
    const { result, charts } = evaluateTables(real, syn, { seed: 1, downstream: false, privacy: false });
    const s = result.methods[0]!;
    expect(result.floors.flows.ttl_const_diff).toBe(0);
    expect(s.metrics.ttl_const_diff).toBeGreaterThan(0.5);
    expect(s.ratios.ttl_const_diff).toBe(s.metrics.ttl_const_diff! * result.comparison.size);
    expect(s.ratios.ttl_const_diff).toBeGreaterThan(100);
    // and another real trace (every flow keeps its TTL too): 0×, not n/a
    const same = evaluateTables(real, makePackets(1500, 3), { seed: 1, downstream: false, privacy: false }).result;
    expect(same.methods[0]!.ratios.ttl_const_diff).toBe(0);
    expect(renderReport(result, charts, '')).toContain('class="r poor"');
  });
});
