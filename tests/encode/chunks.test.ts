// Records → flows → chunks: fixed-time/fixed-size chunking, empty chunks, max flow length, multichunk_dep_v2 flow tags, gen flags.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowTagDim, planChunks, writeFlowTags, type ChunkingOptions } from '../../src/encode/chunks.js';
import { recordView } from '../../src/encode/records.js';
import { genFlagOutputs } from '../../src/encode/tensors.js';
import { allocFlowTable, type FlowTable } from '../../src/io/table.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { ConfigError } from '../../src/errors.js';

/** Flows by name: [srcIp, times]. Every flow has its own source address, same other 4-tuple fields. */
function table(flows: Record<string, [number, number[]]>): FlowTable {
  const rows: [number, number][] = [];
  for (const [, [ip, times]] of Object.entries(flows)) for (const t of times) rows.push([ip, t]);
  const t = allocFlowTable(rows.length);
  rows.forEach(([ip, time], i) => {
    t.srcIp[i] = ip;
    t.dstIp[i] = 0x0a000001;
    t.srcPort[i] = 1000;
    t.dstPort[i] = 80;
    t.proto[i] = 6;
    t.ts[i] = time;
  });
  return t;
}

const base: ChunkingOptions = { nChunks: 3, chunking: 'fixedTime', maxFlowLen: null, longFlows: 'truncate', emptyChunks: 'skip' };
const A = 1, B = 2, C = 3;
// chunks over [0, 300]: [0,100) [100,200) [200,300]
const example = table({ A: [A, [0, 50, 150, 250]], B: [B, [120, 180]], C: [C, [10, 300]] });

function tags(plan: ReturnType<typeof planChunks>, chunkPos: number, flow: number): number[] {
  const c = plan.chunks[chunkPos]!;
  const out = new Float32Array(flowTagDim(plan.nChunks));
  writeFlowTags(plan, c.flowKeyIds[flow]!, c.index, out, 0);
  return Array.from(out);
}
function srcOfFlows(t: FlowTable, plan: ReturnType<typeof planChunks>, chunkPos: number): number[] {
  const c = plan.chunks[chunkPos]!;
  return Array.from({ length: c.flowKeyIds.length }, (_, f) => t.srcIp[c.recIdx[c.recStart[f]!]!]!);
}

describe('multichunk_dep_v2 flow tags on a hand-built 3-chunk trace', () => {
  const plan = planChunks(recordView(example), base);
  it('groups records into 5-tuple flows per chunk, ordered by first record', () => {
    expect(plan.chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(Array.from(plan.edges)).toEqual([0, 100, 200, 300]);
    expect(srcOfFlows(example, plan, 0)).toEqual([A, C]);
    expect(srcOfFlows(example, plan, 1)).toEqual([B, A]);
    expect(srcOfFlows(example, plan, 2)).toEqual([A, C]); // the record at max time (300) belongs to the last chunk
    expect(plan.chunks[0]!.recStart[1]).toBe(2); // A has 2 records in chunk 0
    expect(plan.nFlowKeys).toBe(3);
  });
  it('startFromThisChunk and chunk_i are 2-way one-hots (0 → [1,0], 1 → [0,1])', () => {
    //                    start  chunk0 chunk1 chunk2
    expect(tags(plan, 0, 0)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]); // A starts in 0, present in 0,1,2
    expect(tags(plan, 0, 1)).toEqual([0, 1, 0, 1, 1, 0, 0, 1]); // C starts in 0, present in 0,2
    expect(tags(plan, 1, 0)).toEqual([0, 1, 1, 0, 0, 1, 1, 0]); // B starts in 1, only in 1
    expect(tags(plan, 1, 1)).toEqual([1, 0, 0, 1, 0, 1, 0, 1]); // A continues in 1: v2 keeps its presence bits
    expect(tags(plan, 2, 1)).toEqual([1, 0, 0, 1, 1, 0, 0, 1]); // C continues in 2
  });
});

describe('chunking options', () => {
  it('empty chunks are skipped with a warning, or an error', () => {
    const t = table({ A: [A, [0, 10]], B: [B, [590, 600]] });
    const plan = planChunks(recordView(t), { ...base, nChunks: 6 });
    expect(plan.chunks.map((c) => c.index)).toEqual([0, 5]);
    expect(plan.warnings.filter((w) => w.includes('no records'))).toHaveLength(4);
    // tags still span all 6 time chunks
    expect(flowTagDim(plan.nChunks)).toBe(14);
    expect(() => planChunks(recordView(t), { ...base, nChunks: 6, emptyChunks: 'error' })).toThrow(ConfigError);
  });
  it('fixedSize chunks hold ceil(N/n) records each', () => {
    const t = table({ A: [A, [0, 1, 2, 3, 4, 5, 6]] });
    const plan = planChunks(recordView(t), { ...base, chunking: 'fixedSize' });
    expect(plan.chunks.map((c) => c.recIdx.length)).toEqual([3, 3, 1]);
  });
  it('long flows are truncated to their first maxFlowLen records, or dropped', () => {
    const t = table({ A: [A, [0, 1, 2, 3, 4]], B: [B, [5, 6]], C: [C, [300]] });
    const tr = planChunks(recordView(t), { ...base, maxFlowLen: 3 });
    const c0 = tr.chunks[0]!;
    expect(Array.from(c0.recIdx.subarray(0, 3)).map((i) => t.ts[i])).toEqual([0, 1, 2]);
    expect(c0.truncatedFlows).toBe(1);
    expect(c0.droppedRecords).toBe(2);
    expect(tr.maxLen).toBe(3);
    const dr = planChunks(recordView(t), { ...base, maxFlowLen: 3, longFlows: 'drop' });
    expect(srcOfFlows(t, dr, 0)).toEqual([B]);
    expect(dr.chunks[0]!.droppedFlows).toBe(1);
    expect(dr.maxLen).toBe(2);
  });
  it('unsorted input is sorted by time (stable)', () => {
    const t = table({ A: [A, [50, 10, 30]] });
    const plan = planChunks(recordView(t), { ...base, nChunks: 1 });
    expect(Array.from(plan.chunks[0]!.recIdx).map((i) => t.ts[i])).toEqual([10, 30, 50]);
  });
  it('DP mode: data-independent edges; records outside are dropped', () => {
    const t = table({ A: [A, [0, 150, 999]] });
    const plan = planChunks(recordView(t), { ...base, nChunks: 2, fixedRangeUs: [100, 300] });
    expect(Array.from(plan.edges)).toEqual([100, 200, 300]);
    expect(plan.outOfRange).toBe(2);
    expect(plan.chunks.map((c) => c.index)).toEqual([0]);
  });
});

/** A one-flow table with these record times (unsorted input is fine). */
function timesTable(times: number[]): FlowTable {
  return table({ A: [A, times] });
}

/**
 * What fixed-size chunking must produce, written independently of planChunks: ranks in time order, chunk k starts at
 * the first rank ≥ k·ceil(N/n) that starts a new timestamp (equal times stay in one chunk). Sizes per chunk.
 */
function expectedFixedSizes(times: ArrayLike<number>, nc: number): number[] {
  const s = Float64Array.from(times).sort();
  const n = s.length;
  const per = Math.ceil(n / nc);
  const starts: number[] = [];
  for (let k = 0; k < nc; k++) {
    let b = Math.max(starts[k - 1] ?? 0, Math.min(n, k * per));
    while (b > 0 && b < n && s[b] === s[b - 1]) b++;
    starts.push(b);
  }
  starts.push(n);
  return Array.from({ length: nc }, (_, k) => starts[k + 1]! - starts[k]!);
}

/**
 * Every record of every chunk lies within the chunk's stored edges (half-open, the chunk holding the latest record
 * closed at the top), firstUs/lastUs are its first and last record times, consecutive chunks do not overlap in time,
 * and every record is in exactly one chunk.
 */
function checkChunksWithinEdges(times: ArrayLike<number>, plan: ReturnType<typeof planChunks>): void {
  const seen = new Uint8Array(times.length);
  const last = plan.chunks.at(-1)!;
  let prevLast = -Infinity;
  for (const c of plan.chunks) {
    expect([c.startUs, c.endUs]).toEqual([plan.edges[c.index]!, plan.edges[c.index + 1]!]);
    expect(c.recIdx.length).toBe(c.recordsIn); // no length cap in these tests
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of c.recIdx) {
      const t = times[i]!;
      expect(seen[i]).toBe(0);
      seen[i] = 1;
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
      const inside = t >= c.startUs && (c === last ? t <= c.endUs : t < c.endUs);
      if (!inside) expect.fail(`chunk ${c.index}: record time ${t} outside its edges [${c.startUs}, ${c.endUs}${c === last ? ']' : ')'}`);
    }
    expect([c.firstUs, c.lastUs]).toEqual([lo, hi]);
    expect(c.firstUs).toBeGreaterThan(prevLast);
    prevLast = c.lastUs;
  }
  expect(seen.every((x) => x === 1)).toBe(true);
}

describe('fixedSize chunks: stored edges are the edges the chunker used', () => {
  // quadratic times: equal time slices would hold very different counts (50/21/15/14 of 100)
  const quad = Array.from({ length: 100 }, (_, i) => i * i * 1000);
  it('chunks hold ceil(N/n) records each and lie within their stored edges, unlike the time slices', () => {
    const plan = planChunks(recordView(timesTable(quad)), { ...base, nChunks: 4, chunking: 'fixedSize' });
    expect(plan.chunks.map((c) => c.recordsIn)).toEqual([25, 25, 25, 25]);
    expect(Array.from(plan.edges)).toEqual([0, 25 * 25 * 1000, 50 * 50 * 1000, 75 * 75 * 1000, 99 * 99 * 1000]);
    checkChunksWithinEdges(quad, plan);
  });
  it('a boundary inside a run of equal times moves past the run, so every record has one chunk by time', () => {
    const tied = quad.slice();
    tied[25] = tied[24]!; // ranks 24–26 share one timestamp across the 25-record boundary
    tied[26] = tied[24]!;
    const shuffled = [...tied.slice(50), ...tied.slice(0, 50).reverse()];
    const plan = planChunks(recordView(timesTable(shuffled)), { ...base, nChunks: 4, chunking: 'fixedSize' });
    expect(plan.chunks.map((c) => c.recordsIn)).toEqual([27, 23, 25, 25]);
    expect(plan.edges[1]).toBe(27 * 27 * 1000);
    checkChunksWithinEdges(shuffled, plan);
  });
  it('all records at one time: one chunk holds them all, the others are empty and skipped', () => {
    const plan = planChunks(recordView(timesTable([7, 7, 7, 7, 7])), { ...base, nChunks: 3, chunking: 'fixedSize' });
    expect(plan.chunks.map((c) => [c.index, c.recordsIn])).toEqual([[0, 5]]);
    expect(Array.from(plan.edges)).toEqual([7, 7, 7, 7]);
    checkChunksWithinEdges([7, 7, 7, 7, 7], plan);
  });
  it('a trailing chunk left empty by ceil(N/n) sits at the latest record time', () => {
    const times = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const plan = planChunks(recordView(timesTable(times)), { ...base, nChunks: 4, chunking: 'fixedSize' });
    expect(plan.chunks.map((c) => c.recordsIn)).toEqual([3, 3, 3]);
    expect(Array.from(plan.edges)).toEqual([0, 3, 6, 8, 8]);
    checkChunksWithinEdges(times, plan);
  });
  it('property: sizes follow ceil(N/n) with ties kept together; records lie within the stored edges', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 8 }), (xs, nc) => {
        const times = xs.map((x) => x * 10);
        const plan = planChunks(recordView(timesTable(times)), { ...base, nChunks: nc, chunking: 'fixedSize' });
        const want = expectedFixedSizes(times, nc);
        expect(plan.chunks.map((c) => [c.index, c.recordsIn])).toEqual(want.flatMap((n, k) => (n > 0 ? [[k, n]] : [])));
        checkChunksWithinEdges(times, plan);
      }),
    );
  });
  it('fixedTime keeps linspace edges and the same within-edges guarantee', () => {
    const plan = planChunks(recordView(timesTable(quad)), { ...base, nChunks: 4 });
    expect(plan.chunks.map((c) => c.recordsIn)).toEqual([50, 21, 15, 14]);
    checkChunksWithinEdges(quad, plan);
  });
  it('DP mode refuses fixedSize (its edges would follow the data)', () => {
    expect(() => planChunks(recordView(timesTable(quad)), { ...base, chunking: 'fixedSize', fixedRangeUs: [0, 1e7] })).toThrow(/preprocess\.chunking/);
  });
});

const NS1K = join(__dirname, '../../../shared/data/netflow/ugr16-netshare-1k.csv');
describe.skipIf(!existsSync(NS1K))("fixedSize on NetShare's UGR16 1k sample (needs ../shared/data/netflow; skipped when absent)", () => {
  it('4 chunks of 250 records (ties at a boundary kept together), each within its stored edges', async () => {
    const { table: t } = await readFlowCsv(NS1K);
    const fixedTime = planChunks(recordView(t), { ...base, nChunks: 4 });
    expect(fixedTime.chunks.map((c) => c.recordsIn)).toEqual([184, 250, 238, 328]);
    const plan = planChunks(recordView(t), { ...base, nChunks: 4, chunking: 'fixedSize' });
    const sizes = plan.chunks.map((c) => c.recordsIn);
    expect(sizes).toEqual(expectedFixedSizes(t.ts, 4));
    // 16 records share one time at ranks 240–255, across the 250-record boundary: chunk 0 keeps the run whole
    expect(sizes).toEqual([256, 244, 250, 250]);
    checkChunksWithinEdges(t.ts, plan);
  });
});

describe('gen flags (spec §2.5 add_gen_flag)', () => {
  it('[1,0] continue, [0,1] last step and padding in its sample_len group, [0,0] fully padded groups', () => {
    const T = 4;
    const valid = Float32Array.from([1, 1, 1, 0, /* flow 2 */ 1, 0, 0, 0]);
    const g = genFlagOutputs(valid, 2, T, 2);
    const pairs = (f: number): number[][] => Array.from({ length: T }, (_, t) => [g[(f * T + t) * 2]!, g[(f * T + t) * 2 + 1]!]);
    expect(pairs(0)).toEqual([[1, 0], [1, 0], [0, 1], [0, 1]]);
    expect(pairs(1)).toEqual([[0, 1], [0, 1], [0, 0], [0, 0]]);
  });
});
