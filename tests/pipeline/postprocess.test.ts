// Units of generation/postprocessing: flow-tag merge, duplicate 5-tuples, rank-sum selection, table helpers,
// packet sanitising and the workdir table file format.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocFlowTable, allocPacketTable } from '../../src/io/table.js';
import { dropDuplicateTuples, mergeByFlowTags } from '../../src/pipeline/generate.js';
import { concatTables, rankSumSelect, rowsInTime, sanitizePackets, snapIcmp, snapToSupport, sortByTime } from '../../src/pipeline/postprocess.js';
import { readTableFile, writeTableFile } from '../../src/pipeline/workdir.js';
import { fineTuneSchedule } from '../../src/pipeline/train.js';
import { presetConfig } from '../../src/config/schema.js';

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
});

describe('table helpers', () => {
  it('concatenates with missing columns filled, sorts by time, cuts by time', () => {
    const a = allocFlowTable(2);
    a.ts.set([5, 1]);
    a.type = ['x', 'y'];
    const b = allocFlowTable(1);
    b.ts.set([3]);
    const c = concatTables('flows', [a, b]);
    expect(c.length).toBe(3);
    expect((c as typeof a).type).toEqual(['x', 'y', '']);
    const s = sortByTime(c) as typeof a;
    expect(Array.from(s.ts)).toEqual([1, 3, 5]);
    expect(s.type).toEqual(['y', '', 'x']);
    expect(Array.from((rowsInTime(s, 1, 3) as typeof a).ts)).toEqual([1, 3]);
    expect(Array.from((rowsInTime(s, 1, 3, false) as typeof a).ts)).toEqual([1]);
  });
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
