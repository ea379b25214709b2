// Fidelity metrics and the floor: zero for identical inputs, growing as one side is perturbed; baselines.
import { describe, expect, it } from 'vitest';
import { compareProfiles, FLOW_METRICS, PACKET_METRICS, profile } from '../../src/eval/fidelity.js';
import { splitByFlows, splitByTime, splitTables } from '../../src/eval/floor.js';
import { bootstrapBaseline, makeBaseline, marginalsBaseline } from '../../src/eval/baselines.js';
import { indexFlows } from '../../src/eval/flows.js';
import { takeRows } from '../../src/io/rows.js';
import { ConfigError, InputError } from '../../src/errors.js';
import { evaluateTables } from '../../src/eval/evaluate-tables.js';
import { makeFlows, makePackets, testRng as rng } from './helpers.js';

const clone = <T>(t: T): T => takeRows(t as never, Int32Array.from({ length: (t as { length: number }).length }, (_, i) => i)) as T;

describe('metrics between identical traces', () => {
  it('are all 0 for packets', () => {
    const t = makePackets(500);
    const m = compareProfiles(profile(t), profile(clone(t)));
    for (const info of PACKET_METRICS) expect(m[info.name], info.name).toBe(0);
  });
  it('are all 0 for NetFlow (tcp flags absent → null)', () => {
    const t = makeFlows(2000);
    const m = compareProfiles(profile(t), profile(clone(t)));
    for (const info of FLOW_METRICS) {
      if (info.name === 'tcp_flags_jsd') expect(m[info.name]).toBeNull();
      else expect(m[info.name], info.name).toBe(0);
    }
  });
});

describe('metrics grow as one side is perturbed', () => {
  it('pkt_len EMD equals a constant shift exactly', () => {
    const t = makePackets(300);
    const s = clone(t);
    for (let i = 0; i < s.length; i++) s.pktLen[i]! += 7;
    expect(compareProfiles(profile(t), profile(s)).pkt_len).toBeCloseTo(7, 9);
  });
  it('port JSD and IP rank JSD increase monotonically with the share of perturbed rows', () => {
    const t = makePackets(800);
    const pt = profile(t);
    let prev = { dstport: -1, srcip: -1 };
    for (const share of [0, 0.1, 0.3, 0.6]) {
      const s = clone(t);
      const r = rng(42);
      for (let i = 0; i < s.length; i++)
        if (r() < share) {
          s.dstPort[i] = 8000 + Math.floor(r() * 50);
          s.srcIp[i] = Math.floor(r() * 2 ** 32) >>> 0;
        }
      const m = compareProfiles(pt, profile(s));
      if (share === 0) expect(m.dstport).toBe(0);
      expect(m.dstport!).toBeGreaterThan(prev.dstport);
      expect(m.srcip!).toBeGreaterThan(prev.srcip);
      prev = { dstport: m.dstport!, srcip: m.srcip! };
    }
  });
  it('TTL consistency diff follows the share of flows whose TTL varies', () => {
    const t = makePackets(800);
    const pt = profile(t);
    let prev = -1;
    for (const share of [0, 0.2, 0.5]) {
      const s = clone(t);
      const r = rng(7);
      for (let i = 0; i < s.length; i++) if (r() < share) s.ttl[i] = (s.ttl[i]! + 1) & 255;
      const d = compareProfiles(pt, profile(s)).ttl_const_diff!;
      if (share === 0) expect(d).toBe(0);
      else expect(d).toBeGreaterThan(prev);
      prev = d;
    }
    expect(prev).toBeGreaterThan(0.2);
  });
});

describe('floor splits', () => {
  it('split by flows never cuts a 5-tuple and covers every row once', () => {
    const t = makePackets(400);
    const s = splitByFlows(t, 3);
    expect(s.a.length + s.b.length).toBe(t.length);
    const idx = indexFlows(t);
    const sideOf = new Map<number, string>();
    for (const i of s.a) sideOf.set(idx.flowOf[i]!, 'a');
    for (const i of s.b) expect(sideOf.get(idx.flowOf[i]!)).toBeUndefined();
    expect(Array.from(splitByFlows(t, 3).a)).toEqual(Array.from(s.a));
  });
  it('split by time puts every early record before every late one', () => {
    const t = makePackets(400);
    const [a, b] = splitTables(t, splitByTime(t));
    expect(Math.max(...a.time)).toBeLessThanOrEqual(Math.min(...b.time));
  });
});

describe('baselines', () => {
  it('marginals keeps each marginal (port JSD small) but breaks flows (flow size far above the floor)', () => {
    const t = makePackets(1500);
    const b = marginalsBaseline(t, 1);
    expect(b.length).toBe(t.length);
    const m = compareProfiles(profile(t), profile(b));
    expect(m.dstport!).toBeLessThan(0.01);
    const [h1, h2] = splitTables(t, splitByFlows(t, 1));
    const floor = compareProfiles(profile(h1), profile(h2));
    expect(m.flow_size!).toBeGreaterThan(5 * floor.flow_size!);
  });
  it('bootstrap copies whole flows (header consistency kept) and is seeded', () => {
    const t = makePackets(1500);
    const b = bootstrapBaseline(t, 1);
    expect(b.length).toBeGreaterThanOrEqual(t.length);
    const m = compareProfiles(profile(t), profile(b));
    expect(m.ttl_const_diff!).toBeLessThan(0.05);
    expect(Array.from(bootstrapBaseline(t, 1).time)).toEqual(Array.from(b.time));
    const ts = b.time;
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThanOrEqual(ts[i - 1]!);
  });
  it('rejects an unknown baseline name', () => {
    expect(() => makeBaseline('gan', makePackets(10), 1)).toThrow(ConfigError);
  });
});

describe('evaluateTables', () => {
  it('reports ratios to the floor and normalised EMDs across methods', () => {
    const real = makeFlows(3000, 1);
    const syn = makeFlows(3000, 2);
    const { result, charts } = evaluateTables(real, syn, { seed: 1, baselines: ['marginals', 'bootstrap'], downstream: false, privacy: false });
    expect(result.schemaVersion).toBe(3);
    expect(result.methods.map((m) => m.name)).toEqual(['synthetic', 'baseline:marginals', 'baseline:bootstrap']);
    const s = result.methods[0]!;
    expect(s.ratios.td).toBeCloseTo(s.metrics.td! / result.floors.flows.td!, 12);
    const norms = result.methods.map((m) => m.emdNormalised.byt!);
    expect(Math.min(...norms)).toBeCloseTo(0.1, 12);
    expect(Math.max(...norms)).toBeCloseTo(0.9, 12);
    expect(charts.cdfs.map((c) => c.field)).toContain('byt');
    expect(charts.cdfs[0]!.series[0]!.points.length).toBeLessThanOrEqual(200);
  });
  it('gives clear errors for mismatched kinds, empty tables and NaN values', () => {
    expect(() => evaluateTables(makeFlows(10), makePackets(10))).toThrow(/compare like with like/);
    const empty = takeRows(makeFlows(10), new Int32Array(0));
    expect(() => evaluateTables(empty, makeFlows(10))).toThrow(InputError);
    const bad = makeFlows(10);
    bad.td[4] = Number.NaN;
    expect(() => evaluateTables(makeFlows(10), bad, { files: { synthetic: 'syn.csv' } })).toThrow(/syn.csv trace: td is not a finite number at record 5/);
    expect(() => evaluateTables(makeFlows(10), makeFlows(10), { baselines: ['nope'] })).toThrow(ConfigError);
  });
});

describe('IPv6 addresses', () => {
  it('rank IPv6 sources by their 16-byte address, not by the zero uint32 column', () => {
    const t = makePackets(50, 3);
    const v6 = takeRows(t, Int32Array.from({ length: t.length }, (_, i) => i));
    v6.srcIp6 = new Uint8Array(16 * v6.length);
    v6.dstIp6 = new Uint8Array(16 * v6.length);
    for (let i = 0; i < v6.length; i++) {
      v6.ipVersion[i] = 6;
      v6.srcIp6[16 * i] = 0x20;
      v6.srcIp6[16 * i + 15] = t.srcIp[i]! & 255; // same popularity structure as the v4 sources
      v6.dstIp6[16 * i + 15] = t.dstIp[i]! & 255;
      v6.srcIp[i] = 0;
      v6.dstIp[i] = 0;
    }
    expect(Array.from(profile(v6).srcipRank)).toEqual(Array.from(profile(t).srcipRank));
  });
});
