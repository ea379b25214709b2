// Units of generation/postprocessing: flow-tag merge, duplicate 5-tuples, rank-sum selection, packet sanitising and
// the workdir table file format (the generic table helpers are tested in tests/io/rows.test.ts).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocFlowTable, allocPacketTable, type FlowTable } from '../../src/io/table.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { NETSHARE_METRICS, compareProfiles, metricsFor, profile } from '../../src/eval/fidelity.js';
import { rowsInTime, takeRows } from '../../src/io/rows.js';
import { loadChunkMeta, loadPreprocessSummary } from '../../src/pipeline/chunk-tensors.js';
import { dropDuplicateTuples, mergeByFlowTags, type GenerateStageResult } from '../../src/pipeline/generate.js';
import { matchQuantiles, postprocessStage, rankSumSelect, sanitizePackets, selectionMetrics, snapIcmp, snapToSupport, type ChunkSelection, type PostprocessResult } from '../../src/pipeline/postprocess.js';
import { resolveRunConfig } from '../../src/pipeline/run.js';
import { ConfigError } from '../../src/errors.js';
import { preprocess } from '../../src/pipeline/preprocess.js';
import { readTableFile, selectionPath, writeTableFile } from '../../src/pipeline/workdir.js';
import { fineTuneSchedule } from '../../src/pipeline/train.js';
import { dpSchema, parseConfig, presetConfig } from '../../src/config/schema.js';
import { tinyConfig } from './helpers.js';

/** Attribute row: [x, start(2), chunk_0(2), chunk_1(2), chunk_2(2)] with the one-hot pairs given as 0/1. */
function row(x: number, start: number, chunks: number[]): number[] {
  const pair = (b: number): number[] => (b ? [0.1, 0.9] : [0.9, 0.1]);
  return [x, ...pair(start), ...chunks.flatMap(pair)];
}
const A = 9;
const tags = { start: 1, chunk: (i: number) => 3 + 2 * i };

describe('mergeByFlowTags (NetShare _merge_attr)', () => {
  it('keeps rows that start in their chunk, copies them into later chunks they appear in, drops the rest', () => {
    const raw = new Map<number, Float32Array>([
      [0, Float32Array.from([...row(1, 1, [1, 1, 0]), ...row(2, 0, [1, 0, 0]), ...row(3, 1, [1, 0, 1]), ...row(4, 1, [0, 1, 0])])],
      [1, Float32Array.from([...row(5, 1, [0, 1, 0]), ...row(6, 0, [1, 1, 0])])],
      [2, Float32Array.from([...row(7, 1, [0, 0, 1])])],
    ]);
    const m = mergeByFlowTags(raw, A, tags);
    const xs = (c: number): number[] => Array.from({ length: m.get(c)!.length / A }, (_, i) => m.get(c)![i * A]!);
    // chunk 0: rows 1 and 3 start there (row 2 does not start, row 4 starts but is not present in chunk 0)
    expect(xs(0)).toEqual([1, 3]);
    // chunk 1: copy of row 1 (continuation) then its own starting row 5
    expect(xs(1)).toEqual([1, 5]);
    expect(xs(2)).toEqual([3, 7]);
    // the copies are marked as continuations
    const c1 = m.get(1)!;
    expect(c1[1]! > c1[2]!).toBe(true);
    expect(m.get(1)![A + 2]! > m.get(1)![A + 1]!).toBe(true);
  });
});

describe('dropDuplicateTuples', () => {
  it('drops later flows with an already seen 5-tuple, first occurrence wins', () => {
    const t = allocFlowTable(5);
    const key = [1, 1, 2, 1, 3];
    key.forEach((k, i) => {
      t.srcIp[i] = k;
      t.ts[i] = i;
    });
    const flowOf = Int32Array.from([0, 0, 1, 2, 3]);
    const { table, duplicateFlows } = dropDuplicateTuples(t, flowOf);
    expect(duplicateFlows).toBe(1);
    expect(Array.from(table.ts)).toEqual([0, 1, 2, 4]);
  });
});

describe('rankSumSelect (choose_best_model)', () => {
  it('sums per-metric ranks, ignores metrics undefined for a candidate, ranks empty candidates last', () => {
    const r = rankSumSelect([
      { a: 3, b: 1, c: null },
      { a: 1, b: 2, c: 5 },
      { a: 2, b: 3, c: 1 },
      null,
    ]);
    // ranks a: 3,1,2; b: 1,2,3 → sums 4,3,5 (c skipped: null for one candidate)
    expect(r.rankSums).toEqual([4, 3, 5, null]);
    expect(r.best).toBe(1);
  });
  it('picks the last candidate when nothing can be compared (DP mode / no metrics)', () => {
    expect(rankSumSelect([null, null, null]).best).toBe(2);
  });
  it('breaks ties towards the later checkpoint', () => {
    expect(rankSumSelect([{ a: 1 }, { a: 1 }]).best).toBe(1);
  });
  it('ranks only the named metrics and says which it used', () => {
    // candidate 0 is better on the two marginals, candidate 1 on the three joint metrics
    const m = [
      { srcip: 0.1, pkt: 1, pkt_byt_jsd2d: 0.5, flow_iat_emd: 9, dur_size_jsd2d: 0.4 },
      { srcip: 0.2, pkt: 2, pkt_byt_jsd2d: 0.1, flow_iat_emd: 1, dur_size_jsd2d: 0.1 },
    ];
    expect(rankSumSelect(m).best).toBe(1);
    const r = rankSumSelect(m, ['srcip', 'pkt', 'td']);
    expect(r.best).toBe(0);
    expect(r.used).toEqual(['srcip', 'pkt']); // td is undefined for these candidates
  });
});

describe('selection metric set (postprocess.selectionMetrics)', () => {
  const cfg = (dataset: 'pcap' | 'netflow', selection?: unknown) =>
    resolveRunConfig({ raw: { ...tinyConfig(dataset), ...(selection !== undefined ? { postprocess: { selectionMetrics: selection } } : {}) } });
  it("defaults to NetShare's own metrics: the nine NetFlow marginals, the eight packet ones", () => {
    expect(cfg('netflow').postprocess.selectionMetrics).toBe('netshare');
    expect(selectionMetrics(cfg('netflow'))).toEqual({ set: 'netshare', metrics: ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'ts', 'td', 'pkt', 'byt'] });
    expect(selectionMetrics(cfg('pcap'))).toEqual({ set: 'netshare', metrics: ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'pkt_len', 'time', 'flow_size'] });
    for (const kind of ['flows', 'packets'] as const) {
      const info = metricsFor(kind);
      for (const name of NETSHARE_METRICS[kind]) expect(info.find((m) => m.name === name)?.family, name).toBe('marginal');
    }
  });
  it('"all" ranks every reported metric; a list ranks exactly those', () => {
    expect(selectionMetrics(cfg('netflow', 'all'))).toEqual({ set: 'all', metrics: metricsFor('flows').map((m) => m.name) });
    expect(selectionMetrics(cfg('pcap', ['pkt_len', 'flow_iat_emd']))).toEqual({ set: 'custom', metrics: ['pkt_len', 'flow_iat_emd'] });
  });
  it('a name that is not a metric of the dataset is a ConfigError naming the key, before any work', () => {
    const bad = (sel: unknown): ConfigError => {
      try {
        cfg('netflow', sel);
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    let e = bad(['srcip', 'pkt_len']); // a packet metric in a NetFlow config
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/postprocess\.selectionMetrics\.1.*pkt_len/);
    e = bad(['srcip', 'srcip']);
    expect(e.message).toMatch(/once for postprocess\.selectionMetrics\.1/);
    e = bad('best');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/postprocess\.selectionMetrics/);
    expect(bad([])).toBeInstanceOf(ConfigError);
  });
});

describe('workdir table file', () => {
  it('round-trips a table through the workdir table file', async () => {
    const p = allocPacketTable(3, true);
    p.time.set([1.5, 2.5, 3.25]);
    p.srcIp6!.fill(7);
    p.label = ['a', 'b', 'c'];
    const f = join(mkdtempSync(join(tmpdir(), 'ns-tab-')), 't.nstable');
    await writeTableFile(f, p);
    const q = (await readTableFile(f)) as typeof p;
    expect(q.kind).toBe('packets');
    expect(q.length).toBe(3);
    expect(q.time).toEqual(p.time);
    expect(q.srcIp6).toEqual(p.srcIp6);
    expect(q.label).toEqual(['a', 'b', 'c']);
    expect(q.tcpWindow).toBeInstanceOf(Uint16Array);
  });
});

describe('sanitizePackets', () => {
  it('lifts lengths to the headers, keeps ICMP type/code in a byte, gives TCP a flag and window', () => {
    const p = allocPacketTable(3);
    p.proto.set([6, 17, 1]);
    p.pktLen.set([10, 20, 100]);
    p.srcPort.set([80, 53, 300]);
    p.dstPort.set([1000, 53, 2]);
    p.ihl.set([0, 20, 20]);
    const fixed = sanitizePackets(p, false);
    expect(fixed).toBe(3);
    expect(Array.from(p.pktLen)).toEqual([40, 28, 100]);
    expect(p.srcPort[2]).toBe(300 & 255);
    expect(p.tcpFlags[0]).toBe(0x10);
    expect(p.tcpWindow[0]).toBe(65535);
    expect(Array.from(p.ipVersion)).toEqual([4, 4, 4]);
  });
});

describe('fineTuneSchedule', () => {
  it('gives chunks 1..n−1 a quarter of the iterations and keeps the number of checkpoints', () => {
    const m = presetConfig('pcap').model;
    expect(fineTuneSchedule(m, 0.25)).toEqual({ iterations: 20000, checkpointEvery: 1000 });
    expect(fineTuneSchedule({ ...m, iterations: 6, checkpointEvery: 3 }, 0.25)).toEqual({ iterations: 2, checkpointEvery: 1 });
  });
});

describe('snapToSupport', () => {
  it('moves every value to the nearest value seen in the real data', () => {
    const syn = Uint16Array.from([0, 3, 700, 5000, 8191]);
    snapToSupport(syn, syn.length, Uint16Array.from([0, 0, 185, 1000]));
    expect(Array.from(syn)).toEqual([0, 0, 1000, 1000, 1000]);
    const only0 = Uint16Array.from([4099, 1]);
    snapToSupport(only0, 2, Uint16Array.from([0]));
    expect(Array.from(only0)).toEqual([0, 0]);
  });
});

describe('snapIcmp', () => {
  it('gives ICMP rows the real ICMP type/code nearest to theirs, echo request when the real trace has none', () => {
    const real = allocPacketTable(3);
    real.proto.set([1, 1, 6]);
    real.srcPort.set([0, 3, 80]);
    real.dstPort.set([0, 1, 443]);
    const syn = allocPacketTable(3);
    syn.proto.set([1, 6, 1]);
    syn.srcPort.set([50194, 50194, 2]);
    syn.dstPort.set([2209, 2209, 0]);
    snapIcmp(syn, real);
    expect(Array.from(syn.srcPort)).toEqual([3, 50194, 3]);
    expect(Array.from(syn.dstPort)).toEqual([1, 2209, 0]);
    const none = allocPacketTable(1);
    snapIcmp(syn, none);
    expect(syn.srcPort[0]).toBe(8);
  });
});

/** 100 flow records at quadratic times (equal time slices would hold 50/21/15/14), ranks 24–26 tied, rows shuffled. */
function skewedFlows(): FlowTable {
  const n = 100;
  const t = allocFlowTable(n);
  const types: string[] = [];
  for (let r = 0; r < n; r++) {
    const i = (r * 37) % n; // row order ≠ time order
    const rank = i === 25 || i === 26 ? 24 : i;
    t.ts[r] = 1_458_298_072_364_000 + rank * rank * 1000;
    t.srcIp[r] = (0x0a000001 + (i % 6)) >>> 0;
    t.dstIp[r] = (0xc0a80001 + (i % 3)) >>> 0;
    t.srcPort[r] = 40000 + (i % 9);
    t.dstPort[r] = [80, 443, 53][i % 3]!;
    t.proto[r] = i % 3 === 2 ? 17 : 6;
    t.td[r] = (i % 5) * 0.25;
    t.pkt[r] = 1 + (i % 4);
    t.byt[r] = 40 * (1 + (i % 4)) + i;
    types.push(i % 10 === 0 ? 'blacklist' : 'background');
  }
  t.type = types;
  return t;
}

/**
 * Rows of each fixed-size chunk, written independently of the chunker: stable time order, chunk k starts at the first
 * rank ≥ k·ceil(N/n) that starts a new timestamp (equal times stay in one chunk).
 */
function fixedSizeRows(times: Float64Array, nc: number): number[][] {
  const order = Array.from(times.keys()).sort((a, b) => times[a]! - times[b]! || a - b);
  const n = order.length;
  const per = Math.ceil(n / nc);
  const out: number[][] = [];
  let b = 0;
  for (let k = 0; k < nc; k++) {
    let next = Math.max(b, Math.min(n, (k + 1) * per));
    while (next > 0 && next < n && times[order[next]!] === times[order[next - 1]!]) next++;
    out.push(order.slice(b, next));
    b = next;
  }
  return out;
}

/** Ranges of the records of `rows` in `t`. */
function timeRange(t: FlowTable, rows: number[]): [number, number] {
  const ts = rows.map((i) => t.ts[i]!);
  return [Math.min(...ts), Math.max(...ts)];
}

/**
 * Preprocess `real` with fixed-size chunks, give every chunk two candidates — its exact real records (iteration 1) and
 * those plus the records of the equal time slice, with shifted source ports (iteration 2) — run postprocess, and check that each
 * chunk's selection compared against exactly the records the chunker put in that chunk.
 */
async function checkFixedSizeSelection(real: FlowTable, nChunks: number): Promise<{ sizes: number[]; slices: number[] }> {
  const wd = mkdtempSync(join(tmpdir(), 'ns-pp-fixed-'));
  const raw = tinyConfig('netflow', { nChunks });
  (raw.preprocess as Record<string, unknown>).chunking = 'fixedSize';
  (raw.preprocess as Record<string, unknown>).holdoutShare = 0; // chunk edges of the whole input, as fixedSizeRows computes them
  const cfg = parseConfig(raw);
  await preprocess({ input: join(wd, 'input.csv'), workdir: wd, config: cfg, table: real });
  const summary = await loadPreprocessSummary(wd);
  const want = fixedSizeRows(real.ts, nChunks);
  const present = want.map((r, k) => (r.length > 0 ? k : -1)).filter((k) => k >= 0);
  expect(summary.chunks).toEqual(present);

  // the stored edges hold every chunk's records: meta [startUs, endUs) (closed for the last chunk), summary ranges
  for (const [j, k] of summary.chunks.entries()) {
    const meta = await loadChunkMeta(wd, k);
    expect([meta.startUs, meta.endUs]).toEqual([summary.edgesUs[k], summary.edgesUs[k + 1]]);
    expect(meta.recordsIn).toBe(want[k]!.length);
    const [lo, hi] = timeRange(real, want[k]!);
    expect(summary.recordRangesUs[j]).toEqual([lo, hi]);
    expect(lo).toBeGreaterThanOrEqual(meta.startUs);
    if (j === summary.chunks.length - 1) expect(hi).toBeLessThanOrEqual(meta.endUs);
    else expect(hi).toBeLessThan(meta.endUs);
  }

  // candidates
  const first = summary.edgesUs[0]!;
  const span = summary.edgesUs[nChunks]! - first;
  const sliceOf = (x: number): number => Math.min(nChunks - 1, Math.floor(((x - first) / span) * nChunks));
  const slices = new Array<number>(nChunks).fill(0);
  for (let i = 0; i < real.length; i++) slices[sliceOf(real.ts[i]!)]!++;
  const candidates: GenerateStageResult['candidates'] = [];
  const others = new Map<number, FlowTable>();
  for (const k of summary.chunks) {
    const exact = takeRows(real, want[k]!);
    const otherRows = Array.from(real.ts.keys()).filter((i) => sliceOf(real.ts[i]!) === k || want[k]!.includes(i));
    const other = takeRows(real, otherRows);
    for (let i = 0; i < other.length; i++) other.srcPort[i] = other.srcPort[i]! + 1;
    others.set(k, other);
    for (const [iteration, t] of [[1, exact], [2, other]] as const) {
      const path = join(wd, `cand-${k}-${iteration}.nstable`);
      await writeTableFile(path, t);
      candidates.push({ chunk: k, pass: 0, iteration, path, records: t.length, flows: 0, duplicateFlows: 0 });
    }
  }
  const generated: GenerateStageResult = { chunks: [], passes: 1, candidates, seconds: { attributes: 0, merge: 0, features: 0 } };
  const outcome: PostprocessResult = await postprocessStage({ workdir: wd, config: cfg, real, input: join(wd, 'input.csv'), generated });
  const file = JSON.parse(await readFile(selectionPath(wd), 'utf8')) as { selections: ChunkSelection[]; selectionMetrics: unknown };
  const selections = file.selections;
  expect(selections.map((s) => s.chunk)).toEqual(summary.chunks);
  // selection.json and the manifest outcome say which metric set chose each chunk's checkpoint
  const nine = { set: 'netshare', metrics: [...NETSHARE_METRICS.flows] };
  expect(file.selectionMetrics).toEqual(nine);
  expect(outcome.selectionMetrics).toEqual(nine);
  for (const sel of selections) expect(sel.selectedBy).toEqual({ rule: 'rank-sum', ...nine });
  for (const sel of outcome.selection) expect(sel).toMatchObject({ rule: 'rank-sum', metrics: nine.metrics });
  for (const sel of selections) {
    const rows = want[sel.chunk]!;
    const [lo, hi] = timeRange(real, rows);
    expect(sel.realRecords).toBe(rows.length);
    expect(sel.timeRange).toEqual([lo, hi]);
    // the exact candidate survives truncation whole; the other one is compared on its records inside the chunk
    expect(sel.candidates[0]!.records).toBe(rows.length);
    const realProfile = profile(takeRows(real, rows), { seed: 1 });
    const otherIn = rowsInTime(others.get(sel.chunk)!, lo, hi);
    expect(sel.candidates[1]!.records).toBe(otherIn.length);
    expect(sel.candidates[1]!.metrics).toEqual(JSON.parse(JSON.stringify(compareProfiles(realProfile, profile(otherIn, { seed: 1 })))));
    expect(sel.best).toBe(1);
  }
  return { sizes: summary.chunks.map((k) => want[k]!.length), slices };
}

describe('postprocess model selection with fixedSize chunks', () => {
  it('compares each chunk against exactly the records the chunker put there (synthetic, skewed times, a tie at a boundary)', async () => {
    const r = await checkFixedSizeSelection(skewedFlows(), 4);
    expect(r.sizes).toEqual([27, 23, 25, 25]);
    expect(r.slices).toEqual([50, 21, 15, 14]);
  });
});

const NS1K = join(__dirname, '../../../shared/data/netflow/ugr16-netshare-1k.csv');
describe.skipIf(!existsSync(NS1K))("postprocess with fixedSize chunks on NetShare's UGR16 1k sample (needs ../shared/data/netflow; skipped when absent)", () => {
  it('4 chunks: selection compares against the chunker\'s ~250 records each, not the 184/250/238/328 of the time slices', async () => {
    const { table } = await readFlowCsv(NS1K);
    const r = await checkFixedSizeSelection(table as FlowTable, 4);
    expect(r.sizes).toEqual([256, 244, 250, 250]);
    expect(r.slices).toEqual([184, 250, 238, 328]);
  });
});

describe('matchQuantiles', () => {
  it('gives the generated values the real marginal in their own order', () => {
    // CAIDA-10k's case: 99.9% offset 0, a few fragments; the model outputs ~160 everywhere (nearest: 172/185)
    const real = new Uint16Array(1000);
    real.set([185, 185, 172], 0);
    const syn = Uint16Array.from({ length: 500 }, (_, i) => 150 + (i % 40));
    syn[7] = 300;
    matchQuantiles(syn, syn.length, real);
    expect(syn.filter((v) => v !== 0).length).toBeLessThanOrEqual(2);
    expect(syn[7]).toBe(185);
    const a = Float64Array.from([3, 1, 2, 2]);
    matchQuantiles(a, 4, [10, 20, 30, 40]);
    expect(Array.from(a)).toEqual([40, 10, 20, 30]);
  });
});

describe('postprocess: an empty synthetic trace says why', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('names the step that left nothing (no records generated, all outside the chunks` time ranges) and, with DP, what to try', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-pp-empty-'));
    dirs.push(wd);
    const real = skewedFlows();
    const raw = tinyConfig('netflow', { nChunks: 1 });
    (raw.preprocess as Record<string, unknown>).holdoutShare = 0;
    const cfg = parseConfig(raw);
    await preprocess({ input: join(wd, 'input.csv'), workdir: wd, config: cfg, table: real });
    const [k] = (await loadPreprocessSummary(wd)).chunks;
    const attempt = async (t: FlowTable, config: typeof cfg): Promise<string> => {
      const path = join(wd, `cand-${t.length}.nstable`);
      await writeTableFile(path, t);
      const generated: GenerateStageResult = {
        chunks: [{ chunk: k!, startFlows: 12, mergedFlows: [10], duplicateFlows: [2], candidates: 1 }],
        passes: 1,
        candidates: [{ chunk: k!, pass: 0, iteration: 1, path, records: t.length, flows: 10, duplicateFlows: 2 }],
        seconds: { attributes: 0, merge: 0, features: 0 },
      };
      const err = await postprocessStage({ workdir: wd, config, real, input: join(wd, 'input.csv'), generated }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).not.toMatch(/after truncation/);
      return err!.message;
    };
    // no records at all: the model generated none (not a truncation)
    const none = await attempt(takeRows(real, []), cfg);
    expect(none).toMatch(/the synthetic trace is empty: the models generated no valid flow records for their 10 flows/);
    expect(none).toMatch(/train longer/);
    // records, all outside the chunk's real time range
    const late = takeRows(real, [0, 1, 2]);
    for (let i = 0; i < late.length; i++) late.ts[i] = late.ts[i]! + 3600e6;
    expect(await attempt(late, cfg)).toMatch(/all 3 generated flow records fall outside their chunks' real time ranges/);
    // a DP run says what DP has to do with it and what to try
    const dp = { ...cfg, global: { ...cfg.global, dp: dpSchema.parse({ epsilon: 1 }) } };
    const dpMsg = await attempt(takeRows(real, []), dp);
    expect(dpMsg).toMatch(/the DP models generated no valid flow records/);
    expect(dpMsg).toMatch(/raise ε .*--public/);
  });
});
