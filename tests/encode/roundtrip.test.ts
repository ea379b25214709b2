// Encode → tensors → decode gives back every flow: discrete fields exactly, times and continuous fields within quantisation.
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { dpSchema, presetConfig, type NetShareConfig } from '../../src/config/schema.js';
import { planChunks } from '../../src/encode/chunks.js';
import { recordView } from '../../src/encode/records.js';
import { encoderStateFromJson, encoderStateToJson } from '../../src/encode/state.js';
import type { ContinuousEncoder, IpTopEncoder } from '../../src/encode/fields.js';
import { buildLayout, decodeChunk, densify, encodeChunk, fitEncoders, paddedLength, readFlowStart, writeFlowStart } from '../../src/encode/tensors.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { allocFlowTable, allocPacketTable, type FlowTable, type PacketTable, type Table } from '../../src/io/table.js';

const NS1K = join(__dirname, '../../../shared/data/netflow/ugr16-netshare-1k.csv');
const PCAP = join(__dirname, '../../../shared/data/pcap/enterprise-lan-2012-1h.pcap');

/** Encode every chunk, decode it with a JSON round-tripped encoder state, compare against the chunk's records. */
function roundTrip(table: Table, cfg: NetShareConfig): { chunks: number; rows: number } {
  const view = recordView(table);
  const p = cfg.preprocess;
  const plan = planChunks(view, { nChunks: p.nChunks, chunking: p.chunking, maxFlowLen: p.maxFlowLen, longFlows: p.longFlows, emptyChunks: p.emptyChunks });
  const set = fitEncoders(view, cfg);
  const restored = encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set))));
  const T = paddedLength(plan.maxLen, cfg.model.sampleLen);
  let rows = 0;
  const time = view.time;
  for (const c of plan.chunks) {
    const dense = densify(encodeChunk(view, plan, c, set, T));
    expect(dense.T % cfg.model.sampleLen).toBe(0);
    const d = decodeChunk({ attributes: dense.attributes, features: dense.features, valid: dense.genFlag, n: dense.n, T }, restored, dense.meta);
    expect(d.table.length).toBe(c.recIdx.length);
    // quantisation: float32 of the normalised value (2^-24 relative), flow start once, inter-arrivals accumulate
    const fsTol = (dense.meta.flowStartRange[1] - dense.meta.flowStartRange[0]) * 2 ** -22 + 1e-6;
    // log1p-scaled inter-arrivals: float32 steps of log1p(µs), at most ~log1p(max) times the linear step
    const iaTol = (dense.meta.interarrivalRange[1] - dense.meta.interarrivalRange[0]) * 2 ** -22 * (restored.interarrivalLog ? 32 : 1) + 1e-6;
    // plain comparisons (one expect per chunk keeps tens of thousands of rows fast)
    const bad: string[] = [];
    const same = (what: string, r: number, got: unknown, want: unknown): void => {
      if (got !== want && bad.length < 10) bad.push(`row ${r} ${what}: got ${String(got)}, want ${String(want)}`);
    };
    const near = (what: string, r: number, got: number, want: number, tol: number): void => {
      if (!(Math.abs(got - want) <= tol) && bad.length < 10) bad.push(`row ${r} ${what}: got ${got}, want ${want} ± ${tol}`);
    };
    const tolOf = (k: 'td' | 'pkt' | 'byt', x: number): number => {
      const enc = set.timeseries.find((e) => e.column === k) as { min: number; max: number };
      const tol = (1 + x) * Math.expm1((enc.max - enc.min) * 2 ** -22) + 1e-9;
      return Number.isInteger(x) && k !== 'td' ? Math.max(tol, 0.5) : tol;
    };
    for (let f = 0; f < dense.n; f++) {
      const a = c.recStart[f]!, b = c.recStart[f + 1]!;
      same('startFromThisChunk', a, d.startFromThisChunk![f], plan.firstChunk[c.flowKeyIds[f]!] === c.index ? 1 : 0);
      for (let r = a; r < b; r++) {
        const i = c.recIdx[r]!;
        same('flow', r, d.flowOf[r], f);
        same('srcip', r, d.table.srcIp[r], table.srcIp[i]);
        same('dstip', r, d.table.dstIp[r], table.dstIp[i]);
        same('srcport', r, d.table.srcPort[r], table.srcPort[i]);
        same('dstport', r, d.table.dstPort[r], table.dstPort[i]);
        same('proto', r, d.table.proto[r], table.proto[i]);
        const dt = d.table.kind === 'packets' ? d.table.time : d.table.ts;
        near('time', r, dt[r]!, time[i]!, fsTol + (r - a) * iaTol);
        if (table.kind === 'packets') {
          const got = d.table as PacketTable;
          same('pkt_len', r, got.pktLen[r], table.pktLen[i]);
          same('tos', r, got.tos[r], table.tos[i]);
          same('id', r, got.ipId[r], table.ipId[i]);
          same('flag', r, got.flags[r], table.flags[i]);
          same('off', r, got.fragOffset[r], table.fragOffset[i]);
          same('ttl', r, got.ttl[r], table.ttl[i]);
        } else {
          const got = d.table as FlowTable;
          for (const k of ['td', 'pkt', 'byt'] as const) near(k, r, got[k][r]!, table[k][i]!, tolOf(k, table[k][i]!));
          same('type', r, got.type![r], table.type![i]);
        }
      }
    }
    expect(bad).toEqual([]);
    rows += d.table.length;
  }
  return { chunks: plan.chunks.length, rows };
}

const smallW2v = { word2vec: { epochs: 1, maxSentences: 2000 } };

describe('random traces', () => {
  it('NetFlow records: every chunk decodes back to its flows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1e6 }),
        (n, nChunks, seed) => {
          let s = seed;
          const rnd = (m: number): number => {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            return s % m;
          };
          const t = allocFlowTable(n);
          t.type = [];
          for (let i = 0; i < n; i++) {
            // few distinct 5-tuples so flows span records and chunks
            const k = rnd(8);
            t.srcIp[i] = (0xc0a80000 + k) >>> 0;
            t.dstIp[i] = 0x0a000001 + (k % 3);
            t.srcPort[i] = [80, 443, 53, 6, 40000][k % 5]!;
            t.dstPort[i] = [6, 17, 1234][k % 3]!;
            t.proto[i] = [6, 17, 1][k % 3]!;
            t.ts[i] = 1.46e15 + rnd(1e9);
            t.td[i] = rnd(100000) / 1000;
            t.pkt[i] = 1 + rnd(1000);
            t.byt[i] = 40 + rnd(1e6);
            t.type.push(['background', 'blacklist'][rnd(2)]!);
          }
          const cfg = presetConfig('netflow', { preprocess: { nChunks, ...smallW2v } });
          const r = roundTrip(t, cfg);
          expect(r.rows).toBe(n);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('packets (pcap preset, truncation on): every kept packet decodes back', () => {
    const n = 3000;
    const t = allocPacketTable(n);
    let s = 42;
    const rnd = (m: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % m;
    };
    for (let i = 0; i < n; i++) {
      const k = rnd(50);
      t.time[i] = 1.5e15 + rnd(2_000_000);
      t.ipVersion[i] = 4;
      t.srcIp[i] = 0x0a000000 + k;
      t.dstIp[i] = 0x0a0000ff;
      t.srcPort[i] = 1024 + k;
      t.dstPort[i] = 443;
      t.proto[i] = k % 2 ? 6 : 17;
      t.pktLen[i] = 40 + rnd(1460);
      t.tos[i] = rnd(256);
      t.ipId[i] = rnd(65536);
      t.flags[i] = [0, 1, 2][rnd(3)]!;
      t.fragOffset[i] = rnd(8192);
      t.ttl[i] = 1 + rnd(255);
    }
    const cfg = presetConfig('pcap-netshare', { preprocess: { nChunks: 3, maxFlowLen: 20, ...smallW2v } });
    const r = roundTrip(t, cfg);
    // expected rows, counted independently: per (time chunk, flow) at most 20 packets
    let lo = Infinity, hi = -Infinity;
    for (const x of t.time) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const c = Math.min(2, Math.floor(((t.time[i]! - lo) / (hi - lo)) * 3));
      const key = `${c}/${t.srcIp[i]}/${t.proto[i]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let want = 0;
    for (const v of counts.values()) want += Math.min(20, v);
    expect(want).toBeLessThan(n);
    expect(r.rows).toBe(want);
  });
});

describe('encoding variants', () => {
  function packets(n: number, v6: boolean): PacketTable {
    const t = allocPacketTable(n, v6);
    for (let i = 0; i < n; i++) {
      const k = i % 17;
      t.time[i] = 1.5e15 + i * 1234;
      t.ipVersion[i] = v6 && k % 2 ? 6 : 4;
      t.srcIp[i] = 0x0a000000 + k;
      t.dstIp[i] = 0x0a0000ff;
      if (t.ipVersion[i] === 6) {
        t.srcIp[i] = 0;
        t.dstIp[i] = 0;
        t.srcIp6![16 * i] = 0x20;
        t.srcIp6![16 * i + 1] = 0x01;
        t.srcIp6![16 * i + 15] = k;
        t.dstIp6![16 * i] = 0xfe;
        t.dstIp6![16 * i + 15] = 1;
      }
      t.srcPort[i] = 1024 + k;
      t.dstPort[i] = 443;
      t.proto[i] = 6;
      t.pktLen[i] = 40 + (i % 1000);
      t.ttl[i] = 64;
    }
    return t;
  }
  it('IPv6 addresses use 128-bit encodings and decode back with their version', () => {
    const t = packets(400, true);
    const cfg = presetConfig('pcap', { preprocess: { nChunks: 2, ...smallW2v } });
    expect(roundTrip(t, cfg).rows).toBe(400);
    const set = fitEncoders(recordView(t), cfg);
    expect((set.metadata[0] as IpTopEncoder).bits).toBe(128); // the pcap preset's ipTop: its classes, then 128 bits
    expect(set.metadata[0]!.dim).toBe((set.metadata[0] as IpTopEncoder).classes + 256);
    const view = recordView(t);
    const plan = planChunks(view, { nChunks: 1, chunking: 'fixedTime', maxFlowLen: null, longFlows: 'truncate', emptyChunks: 'skip' });
    const c = plan.chunks[0]!;
    const dense = densify(encodeChunk(view, plan, c, set, paddedLength(plan.maxLen, 10)));
    const d = decodeChunk({ attributes: dense.attributes, features: dense.features, valid: dense.genFlag, n: dense.n, T: dense.T }, set, dense.meta);
    const tb = d.table as PacketTable;
    for (let r = 0; r < tb.length; r++) {
      const i = c.recIdx[r]!;
      expect(tb.ipVersion[r]).toBe(t.ipVersion[i]);
      if (t.ipVersion[i] === 6) expect(Array.from(tb.srcIp6!.subarray(16 * r, 16 * r + 16))).toEqual(Array.from(t.srcIp6!.subarray(16 * i, 16 * i + 16)));
    }
    // tuplesOnly (the generate stage's 5-tuple dedupe): the same records' 5-tuples, IP versions and addresses, the
    // same flow tags; nothing else decoded
    const u = decodeChunk({ attributes: dense.attributes, features: dense.features, valid: dense.genFlag, n: dense.n, T: dense.T }, set, dense.meta, { tuplesOnly: true });
    const tu = u.table as PacketTable;
    expect(tu.length).toBe(tb.length);
    expect(Array.from(u.flowOf)).toEqual(Array.from(d.flowOf));
    for (const col of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'ipVersion', 'srcIp6', 'dstIp6'] as const) expect(Array.from(tu[col]!)).toEqual(Array.from(tb[col]!));
    expect(tu.time.every((x) => x === 0) && tu.pktLen.every((x) => x === 0)).toBe(true);
    expect(tb.pktLen.some((x) => x !== 0)).toBe(true);
  });
  it('IPv4 addresses as categorical with fixed choices decode back to the address columns (threw "no table column for field srcip")', () => {
    const t = packets(300, false);
    const src = Array.from({ length: 17 }, (_, k) => 0x0a000000 + k);
    const metadata = [
      { column: 'srcip', encoding: 'categorical', choices: src },
      { column: 'dstip', encoding: 'categorical', choices: [0x0a0000ff] },
      { column: 'srcport', encoding: 'bits', nBits: 16 },
      { column: 'dstport', encoding: 'bits', nBits: 16 },
      { column: 'proto', encoding: 'categorical', choices: [6, 17] },
      { column: 'ttl', encoding: 'categorical' },
      { column: 'tos', encoding: 'categorical' },
    ];
    const cfg = presetConfig('pcap', { preprocess: { nChunks: 2, metadata, ...smallW2v } });
    expect(fitEncoders(recordView(t), cfg).metadata.map((e) => e.encoding)).toEqual(['categorical', 'categorical', 'bits', 'bits', 'categorical']);
    expect(roundTrip(t, cfg).rows).toBe(300);
  });
  it('ipTop: a class per popular address (by records, minCount) + "other" with bits; round-trips in IPv4 and IPv6 mode, two heads, persisted', () => {
    const ipTop = (top: number, minCount: number) => [
      { column: 'srcip', encoding: 'ipTop', top, minCount },
      { column: 'dstip', encoding: 'ipTop', top, minCount },
      { column: 'srcport', encoding: 'bits', nBits: 16 },
      { column: 'dstport', encoding: 'bits', nBits: 16 },
      { column: 'proto', encoding: 'categorical', choices: [6, 17] },
      { column: 'ttl', encoding: 'categorical' },
      { column: 'tos', encoding: 'categorical' },
    ];
    const t = packets(340, false);
    // make source 10.0.0.3 the most popular and 10.0.0.16 a one-off
    for (let i = 0; i < 40; i++) t.srcIp[i * 5] = 0x0a000003;
    let one = -1;
    for (let i = 0; i < t.length; i++) if (t.srcIp[i] === 0x0a000010) (one < 0 ? (one = i) : (t.srcIp[i] = 0x0a000001));
    const cfg = presetConfig('pcap', { preprocess: { nChunks: 2, metadata: ipTop(4, 2), ...smallW2v } });
    const set = fitEncoders(recordView(t), cfg);
    const src = set.metadata[0] as IpTopEncoder;
    expect(src.encoding).toBe('ipTop');
    expect(src.top[0]).toBe(String(0x0a000003));
    expect(src.top).toHaveLength(4);
    expect(src.dim).toBe(5 + 64);
    const restored = encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set))));
    expect((restored.metadata[0] as IpTopEncoder).top).toEqual(src.top);
    // every address decodes back: popular ones through their class, the rest (10.0.0.16 included) through the bits
    expect(roundTrip(t, cfg).rows).toBe(340);
    const l = buildLayout(set);
    expect(l.attributes.slice(0, 2)).toMatchObject([
      { name: 'srcip', offset: 0, dim: 5, groupSize: 5, activation: 'softmax', discrete: true, encoding: 'ipTop' },
      { name: 'srcip.bits', offset: 5, dim: 64, groupSize: 2, activation: 'softmax', discrete: true, encoding: 'ipBits' },
    ]);
    // a one-off address never gets a class (minCount 2), however large top is
    const wide = fitEncoders(recordView(t), presetConfig('pcap', { preprocess: { nChunks: 2, metadata: ipTop(100, 2), ...smallW2v } }));
    expect((wide.metadata[0] as IpTopEncoder).top).not.toContain(String(0x0a000010));
    // IPv6 mode: 128 bits, v4 rows keyed as ::ffff:a.b.c.d
    const t6 = packets(400, true);
    const cfg6 = presetConfig('pcap', { preprocess: { nChunks: 2, metadata: ipTop(3, 2), ...smallW2v } });
    expect(roundTrip(t6, cfg6).rows).toBe(400);
    expect((fitEncoders(recordView(t6), cfg6).metadata[0] as IpTopEncoder).dim).toBe(4 + 256);
    // DP: the popular addresses come from the private records
    expect(() => presetConfig('pcap', { global: { dp: { epsilon: 4 } }, preprocess: { metadata: ipTop(4, 2) } })).toThrow(/ipTop chooses its popular addresses/);
  });
  it('topValues: a class per frequent value (≥ 2 records, most frequent first) + "other" before the value; frequent values decode exactly, two heads, persisted, refused with pointMass and under DP', () => {
    const t = packets(400, false);
    // lengths: 52 the most frequent, 60 next, 1234 once (a one-off never gets a class), the rest spread
    for (let i = 0; i < t.length; i++) t.pktLen[i] = i % 2 === 0 ? 52 : i % 3 === 0 ? 60 : 100 + i;
    t.pktLen[7] = 1234;
    const withTop = (k: number) => presetConfig('pcap', { preprocess: { nChunks: 2, ...smallW2v, timeseries: presetConfig('pcap').preprocess.timeseries.map((f) => (f.column === 'pkt_len' ? { ...f, topValues: k } : f)) } });
    const cfg = withTop(4);
    const set = fitEncoders(recordView(t), cfg);
    const enc = set.timeseries.find((e) => e.column === 'pkt_len') as ContinuousEncoder;
    expect(enc.values.slice(0, 2)).toEqual([52, 60]);
    expect(enc.values).not.toContain(1234);
    expect(enc.values).toHaveLength(2); // only 52 and 60 repeat (100 + i is one of a kind)
    expect(enc.dim).toBe(2 + 1 + 1);
    const l = buildLayout(set);
    const at = l.features.findIndex((f) => f.name === 'pkt_len.top');
    expect(l.features.slice(at, at + 2)).toMatchObject([
      { name: 'pkt_len.top', dim: 3, groupSize: 3, activation: 'softmax', discrete: true, encoding: 'topValues' },
      { name: 'pkt_len', dim: 1, activation: 'sigmoid', discrete: false },
    ]);
    expect(l.features[at + 1]!.offset).toBe(l.features[at]!.offset + 3);
    // every packet decodes back, frequent lengths through their class, the rest through the value head
    expect(roundTrip(t, cfg).rows).toBe(400);
    const restored = encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set)))).timeseries.find((e) => e.column === 'pkt_len') as ContinuousEncoder;
    expect(restored.values).toEqual([52, 60]);
    expect(restored.dim).toBe(4);
    // a class wins over the value head: exactly 60 whatever the value says; "other" reads the value
    expect(enc.decode(Float32Array.from([0.1, 0.8, 0.1, 0.0]), 0)).toBe(60);
    const out = new Float32Array(4);
    enc.encode(777, out, 0);
    expect(Array.from(out.subarray(0, 3))).toEqual([0, 0, 1]);
    expect(enc.decode(out, 0)).toBe(777);
    // no repeated value at all: no class head, a plain value
    for (let i = 0; i < t.length; i++) t.pktLen[i] = 40 + i;
    const plain = fitEncoders(recordView(t), cfg).timeseries.find((e) => e.column === 'pkt_len') as ContinuousEncoder;
    expect(plain.dim).toBe(1);
    expect(buildLayout(fitEncoders(recordView(t), cfg)).features.some((f) => f.name === 'pkt_len.top')).toBe(false);
    // one of topValues and pointMass; and not under DP (the values come from the private records)
    const both = presetConfig('pcap').preprocess.timeseries.map((f) => (f.column === 'pkt_len' ? { ...f, topValues: 4, pointMass: true } : f));
    expect(() => presetConfig('pcap', { preprocess: { timeseries: both } })).toThrow(/preprocess\.timeseries\.0\.topValues/);
    const dpTop = presetConfig('pcap-netshare').preprocess.timeseries.map((f) => (f.column === 'pkt_len' ? { ...f, topValues: 4, min: 0, max: 1500 } : f));
    expect(() => presetConfig('pcap-netshare', { global: { dp: { epsilon: 4 } }, preprocess: { timeseries: dpTop } })).toThrow(/topValues chooses its frequent values/);
  });
  it('log1p inter-arrivals (preprocess.timestamp.interarrivalLog) round-trip, persist, and give millisecond gaps a usable share of the scale', () => {
    const t = packets(500, false);
    // one long gap (10 minutes) in the chunk next to millisecond gaps
    for (let i = 0; i < t.length; i++) t.time[i] = 1.5e15 + i * 1000 + (i >= 250 ? 600e6 : 0);
    const cfg = presetConfig('pcap', { preprocess: { nChunks: 1, timestamp: { interarrivalLog: true }, ...smallW2v } });
    expect(roundTrip(t, cfg).rows).toBe(500);
    const set = fitEncoders(recordView(t), cfg);
    expect(set.interarrivalLog).toBe(true);
    expect(encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set)))).interarrivalLog).toBe(true);
    const scaled = (log: boolean): number[] => {
      const c = presetConfig('pcap', { preprocess: { nChunks: 1, timestamp: { interarrivalLog: log }, ...smallW2v } });
      const s = fitEncoders(recordView(t), c);
      const view = recordView(t);
      const plan = planChunks(view, { nChunks: 1, chunking: 'fixedTime', maxFlowLen: null, longFlows: 'truncate', emptyChunks: 'skip' });
      const d = densify(encodeChunk(view, plan, plan.chunks[0]!, s, paddedLength(plan.maxLen, 10)));
      const F = buildLayout(s).featureDim;
      const out: number[] = [];
      for (let k = 0; k < d.n * d.T; k++) if (d.genFlag[k]! > 0.5 && k % d.T > 0) out.push(d.features[k * F]!);
      return out;
    };
    const lin = scaled(false), log = scaled(true);
    // the 17-flow fixture's gaps inside a flow are 17 ms (+ one 10-minute gap): linearly ~3e-5 of the scale, in log1p(µs) ~0.48
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
    expect(median(lin)).toBeLessThan(1e-4);
    expect(median(log)).toBeGreaterThan(0.4);
  });
  it('flow start as bins + position (preprocess.timestamp.flowStartBins) round-trips, and is persisted with the encoders', () => {
    const t = packets(500, false);
    const cfg = presetConfig('pcap', { preprocess: { nChunks: 3, timestamp: { flowStartBins: 8 }, ...smallW2v } });
    expect(roundTrip(t, cfg).rows).toBe(500);
    const set = fitEncoders(recordView(t), cfg);
    expect(set.flowStartBins).toBe(8);
    expect(encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set)))).flowStartBins).toBe(8);
    const l = buildLayout(set);
    const bin = l.attributes.find((a) => a.name === 'flow_start_bin')!;
    const pos = l.attributes.find((a) => a.name === 'flow_start')!;
    expect(bin).toMatchObject({ dim: 8, groupSize: 8, activation: 'softmax', discrete: true });
    expect(pos.offset).toBe(bin.offset + 8);
    expect(l.attributeDim).toBe(pos.offset + 1);
    // NetShare's encoding is unchanged without the key
    const plain = buildLayout(fitEncoders(recordView(t), presetConfig('pcap', { preprocess: { nChunks: 3, timestamp: { flowStartBins: 0 }, ...smallW2v } })));
    expect(plain.attributes.some((a) => a.name === 'flow_start_bin')).toBe(false);
    expect(plain.attributeDim).toBe(l.attributeDim - 8);
  });
  it('a categorical field with one value in the trace (ToS 0 everywhere) is a constant, not a one-way softmax', () => {
    const t = packets(200, false); // TTL 64 and ToS 0 on every packet
    const set = fitEncoders(recordView(t), presetConfig('pcap', { preprocess: { nChunks: 1, ...smallW2v } }));
    // (every packet here is TCP: the preset's categorical protocol is a constant too)
    expect(set.constants).toEqual({ proto: 6, ttl: 64, tos: 0, tcp_flags: 0 });
    expect(set.metadata.map((e) => e.column)).toEqual(['srcip', 'dstip', 'srcport', 'dstport']);
    expect(buildLayout(set).attributes.every((a) => a.activation !== 'softmax' || (a.groupSize ?? 2) >= 2)).toBe(true);
    t.ttl[5] = 128;
    expect(fitEncoders(recordView(t), presetConfig('pcap', { preprocess: { nChunks: 1, ...smallW2v } })).metadata.map((e) => e.column)).toContain('ttl');
  });
  it('writeFlowStart/readFlowStart: the bin one-hot, the position inside it, both ends of the range', () => {
    for (const norm of ['zeroOne', 'minusOneOne'] as const) {
      for (const [x, b] of [[100, 0], [112.5, 1], [199.99, 7], [200, 7], [150, 4]] as const) {
        const out = new Float32Array(12);
        writeFlowStart(x, 100, 200, norm, 8, out, 2);
        expect(out.subarray(2, 10).indexOf(1)).toBe(b);
        expect(out.subarray(2, 10).reduce((p, q) => p + q, 0)).toBe(1);
        expect(readFlowStart(out, 2, 100, 200, norm, 8)).toBeCloseTo(x, 4);
      }
      const one = new Float32Array(1);
      writeFlowStart(150, 100, 200, norm, 0, one, 0);
      expect(readFlowStart(one, 0, 100, 200, norm, 0)).toBeCloseTo(150, 4);
    }
  });
  it('ports as 16 bits (the alternative to word2vec) round-trip exactly', () => {
    const t = packets(300, false);
    const cfg = presetConfig('pcap-netshare', {
      preprocess: {
        nChunks: 2,
        metadata: [
          { column: 'srcip', encoding: 'ipBits' },
          { column: 'dstip', encoding: 'ipBits' },
          { column: 'srcport', encoding: 'bits', nBits: 16 },
          { column: 'dstport', encoding: 'bits', nBits: 16 },
          { column: 'proto', encoding: 'categorical' },
        ],
      },
    });
    expect(roundTrip(t, cfg).rows).toBe(300);
    expect(fitEncoders(recordView(t), cfg).ports).toBeUndefined();
  });
  it('DP mode: time normalisation from data-independent ranges, fixed field ranges', () => {
    const t = allocFlowTable(100);
    t.type = [];
    for (let i = 0; i < 100; i++) {
      t.srcIp[i] = i % 7;
      t.dstIp[i] = 1;
      t.srcPort[i] = 80;
      t.dstPort[i] = 1000 + (i % 7);
      t.proto[i] = 6;
      t.ts[i] = 1e15 + i * 1e6;
      t.td[i] = 1;
      t.pkt[i] = 2;
      t.byt[i] = 100;
      t.type.push('background');
    }
    // the encoders' DP ranges (global.dp set on the parsed config: the DP config check refuses word2vec, not under test here)
    const cfg = presetConfig('netflow', {
      preprocess: {
        nChunks: 2,
        maxFlowLen: 100,
        dpRanges: { startTimeUs: 1e15, endTimeUs: 1e15 + 200e6, interarrivalS: [0, 300] },
        timeseries: [
          { column: 'td', encoding: 'continuous', log1p: true, min: 0, max: 600 },
          { column: 'pkt', encoding: 'continuous', log1p: true, min: 1, max: 1e6 },
          { column: 'byt', encoding: 'continuous', log1p: true, min: 20, max: 1.5e9 },
          { column: 'type', encoding: 'categorical', choices: ['background', 'blacklist'] },
        ],
      },
    });
    cfg.global.dp = dpSchema.parse({ epsilon: 10 });
    const view = recordView(t);
    const plan = planChunks(view, { nChunks: 2, chunking: 'fixedTime', maxFlowLen: 100, longFlows: 'drop', emptyChunks: 'skip', fixedRangeUs: [1e15, 1e15 + 200e6] });
    expect(Array.from(plan.edges)).toEqual([1e15, 1e15 + 100e6, 1e15 + 200e6]);
    const set = fitEncoders(view, cfg);
    const c = encodeChunk(view, plan, plan.chunks[0]!, set, 100, { interarrivalUs: [0, 300e6] });
    expect(plan.chunks.map((k) => k.index)).toEqual([0]); // all records fall in the first half
    expect(c.meta.flowStartRange).toEqual([1e15, 1e15 + 100e6]);
    expect(c.meta.interarrivalRange).toEqual([0, 300e6]);
    const pkt = set.timeseries[1] as unknown as { min: number; max: number };
    expect([pkt.min, pkt.max]).toEqual([Math.log1p(1), Math.log1p(1e6)]);
  });

  it('DP mode: whether a continuous field decodes to integers comes from the column type or the config, never from the private values', () => {
    // durations that happen to be whole seconds, packet counts that are not whole (as no real trace has them): what
    // the data says is the opposite of what the columns are
    const t = allocFlowTable(50);
    for (let i = 0; i < 50; i++) {
      t.srcIp[i] = i;
      t.dstIp[i] = 1;
      t.srcPort[i] = 1000 + i;
      t.dstPort[i] = 80;
      t.proto[i] = 6;
      t.ts[i] = 1e15 + i * 1e6;
      t.td[i] = i % 3;
      t.pkt[i] = 1.5 + i;
      t.byt[i] = 100 + i;
    }
    const timeseries = (extra: Record<string, unknown> = {}): unknown[] => [
      { column: 'td', encoding: 'continuous', min: 0, max: 600 },
      { column: 'pkt', encoding: 'continuous', min: 1, max: 1e6 },
      { column: 'byt', encoding: 'continuous', min: 20, max: 1.5e9, ...extra },
    ];
    const fit = (dp: boolean, extra?: Record<string, unknown>): boolean[] => {
      const cfg = presetConfig('netflow', { preprocess: { nChunks: 1, maxFlowLen: 100, dpRanges: { startTimeUs: 1e15, endTimeUs: 1e15 + 100e6, interarrivalS: [0, 300] }, timeseries: timeseries(extra) } });
      if (dp) cfg.global.dp = dpSchema.parse({ epsilon: 10 });
      const set = fitEncoders(recordView(t), cfg);
      const restored = encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set))));
      return restored.timeseries.map((e) => (e as unknown as { integral: boolean }).integral);
    };
    // without DP it is learnt from the data (td all whole → rounded; pkt not → not rounded)
    expect(fit(false)).toEqual([true, false, true]);
    // with DP: the columns' types (td is a duration; pkt and byt are counts)
    expect(fit(true)).toEqual([false, true, true]);
    // the config's `integer` wins in both modes
    expect(fit(true, { integer: false })).toEqual([false, true, false]);
    expect(fit(false, { integer: false })).toEqual([true, false, false]);
    // and decoding follows it: a DP td decodes unrounded
    const cfg = presetConfig('netflow', { preprocess: { nChunks: 1, maxFlowLen: 100, dpRanges: { startTimeUs: 1e15, endTimeUs: 1e15 + 100e6, interarrivalS: [0, 300] }, timeseries: timeseries() } });
    cfg.global.dp = dpSchema.parse({ epsilon: 10 });
    const td = fitEncoders(recordView(t), cfg).timeseries[0] as unknown as { inverse(v: number): number };
    expect(td.inverse(0.5 / 600)).toBeCloseTo(0.5, 9);
  });
});

describe.skipIf(!existsSync(NS1K))("NetShare's UGR16 sample (needs ../shared/data/netflow; skipped when absent)", () => {
  it('decodes back to all 1000 records', async () => {
    const { table } = await readFlowCsv(NS1K);
    const r = roundTrip(table, presetConfig('netflow', { preprocess: { nChunks: 2 } }));
    expect(r.rows).toBe(1000);
  });
  it('td and pkt with a point mass at their minimum (pointMass): two heads each, and the minimum decodes exactly', async () => {
    const { table } = await readFlowCsv(NS1K);
    const cfg = presetConfig('netflow', { preprocess: { nChunks: 2 } });
    cfg.preprocess.timeseries = cfg.preprocess.timeseries.map((f) => (f.column === 'td' || f.column === 'pkt' ? { ...f, pointMass: true } : f));
    expect(roundTrip(table, cfg).rows).toBe(1000);
    const set = fitEncoders(recordView(table), cfg);
    const l = buildLayout(set);
    const td = l.features.findIndex((f) => f.name === 'td.atMin');
    expect(l.features.slice(td, td + 2)).toMatchObject([
      { name: 'td.atMin', dim: 2, activation: 'softmax', groupSize: 2, discrete: true },
      { name: 'td', dim: 1, activation: 'sigmoid', discrete: false },
    ]);
    expect(l.features[td + 1]!.offset).toBe(l.features[td]!.offset + 2);
    const enc = set.timeseries.find((e) => e.column === 'td') as ContinuousEncoder;
    const restored = encoderStateFromJson(JSON.parse(JSON.stringify(encoderStateToJson(set)))).timeseries.find((e) => e.column === 'td') as ContinuousEncoder;
    expect(restored.pointMass).toBe(true);
    // a record at the minimum (this sample's shortest td): [1, 0, 0], decoded to exactly the minimum whatever the value head
    const min = enc.inverse(0);
    const out = new Float32Array(3);
    enc.encode(min, out, 0);
    expect(Array.from(out)).toEqual([1, 0, 0]);
    expect(enc.decode(Float32Array.from([0.9, 0.1, 0.3]), 0)).toBe(min);
    out.fill(0); // encoders write into zeroed tensors
    enc.encode(min + 2.5, out, 0);
    expect(Array.from(out.subarray(0, 2))).toEqual([0, 1]);
    expect(enc.decode(out, 0)).toBeCloseTo(min + 2.5, 2);
  });
});

describe.skipIf(!existsSync(PCAP))('enterprise pcap (needs ../shared/data/pcap; skipped when absent)', () => {
  it('decodes back to every packet of its flows', async () => {
    const { readPacketTable } = await import('../../src/native/reader.js');
    const { table } = await readPacketTable(PCAP);
    // IPv4 flags in the trace are only 0/DF/MF (choices [0,1,2]); a 600-packet cap keeps tensors small
    const r = roundTrip(table, presetConfig('pcap', { preprocess: { maxFlowLen: 600, word2vec: { epochs: 1 } } }));
    expect(r.chunks).toBe(10);
    expect(r.rows).toBeGreaterThan(0.8 * table.length);
  });
});
