// The one 5-tuple key (src/io/flow-key.ts): exact for IPv4 and IPv6, ids in order of first appearance.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TupleIds, TupleSet, indexFlows } from '../../src/io/flow-key.js';
import { allocFlowTable, type FlowTable } from '../../src/io/table.js';

/** A flow table of `rows` [srcIp, dstIp, srcPort, dstPort, proto, v6 address byte or -1 for IPv4]. */
function table(rows: [number, number, number, number, number, number][]): FlowTable {
  const t = allocFlowTable(rows.length);
  t.ipVersion = new Uint8Array(rows.length);
  t.srcIp6 = new Uint8Array(16 * rows.length);
  t.dstIp6 = new Uint8Array(16 * rows.length);
  rows.forEach(([s, d, sp, dp, p, b6], i) => {
    t.srcIp[i] = s;
    t.dstIp[i] = d;
    t.srcPort[i] = sp;
    t.dstPort[i] = dp;
    t.proto[i] = p;
    t.ipVersion![i] = b6 < 0 ? 4 : 6;
    if (b6 >= 0) {
      t.srcIp6![16 * i] = 0x20;
      t.srcIp6![16 * i + 15] = b6;
      t.dstIp6![16 * i + 7] = s; // IPv6 rows are keyed on these bytes, never on the uint32 columns
    }
  });
  return t;
}

/** The obvious oracle: a string of every key field. */
function oracle(t: FlowTable, i: number): string {
  if (t.ipVersion![i] === 6) return `6:${t.srcIp6!.subarray(16 * i, 16 * i + 16).join('.')}:${t.dstIp6!.subarray(16 * i, 16 * i + 16).join('.')}:${t.srcPort[i]}:${t.dstPort[i]}:${t.proto[i]}`;
  return `4:${t.srcIp[i]}:${t.dstIp[i]}:${t.srcPort[i]}:${t.dstPort[i]}:${t.proto[i]}`;
}

const row = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.constant(80), fc.constantFrom(6, 17), fc.integer({ min: -1, max: 2 }));

describe('indexFlows', () => {
  it('numbers exact 5-tuples (IPv4 and IPv6) by first appearance, as a string-keyed map does', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 300 }), (rows) => {
        const t = table(rows);
        const ids = new Map<string, number>();
        const want = rows.map((_, i) => {
          const k = oracle(t, i);
          if (!ids.has(k)) ids.set(k, ids.size);
          return ids.get(k)!;
        });
        const idx = indexFlows(t);
        expect(Array.from(idx.flowOf)).toEqual(want);
        expect(idx.count).toBe(ids.size);
        expect(Array.from(idx.first)).toEqual([...ids.keys()].map((k) => want.indexOf(ids.get(k)!)));
      }),
    );
  });
  it('visits records in the given order and leaves the others at −1', () => {
    const t = table([[1, 2, 3, 80, 6, -1], [5, 6, 7, 80, 6, -1], [1, 2, 3, 80, 6, -1]]);
    const idx = indexFlows(t, [1, 0]);
    expect(Array.from(idx.flowOf)).toEqual([1, 0, -1]);
    expect(Array.from(idx.first)).toEqual([1, 0]);
  });
  it('keeps ids exact while the table grows far past its first size', () => {
    const n = 5000;
    const t = allocFlowTable(2 * n);
    for (let i = 0; i < 2 * n; i++) t.srcPort[i] = i % n;
    const idx = indexFlows(t);
    expect(idx.count).toBe(n);
    for (let i = 0; i < 2 * n; i++) expect(idx.flowOf[i]).toBe(i % n);
  });
});

describe('TupleIds', () => {
  it('tells IPv6 keys apart on their full addresses even when the key words collide', () => {
    const a = new Uint8Array(16).fill(1);
    const b = new Uint8Array(16).fill(2);
    const ids = new TupleIds(4);
    // the same words for both rows, as a folding collision would give: the bytes decide
    expect(ids.id(7, 7, 7, 0x606, a, a, 0)).toBe(0);
    expect(ids.id(7, 7, 7, 0x606, b, a, 0)).toBe(1);
    expect(ids.id(7, 7, 7, 0x606, a, a, 0)).toBe(0);
    expect(ids.find(7, 7, 7, 0x606, a, b, 0)).toBe(-1);
    expect(ids.id(7, 7, 7, 6)).toBe(2);
  });
});

describe('TupleSet', () => {
  it('answers membership for rows of another table', () => {
    const a = table([[1, 2, 3, 80, 6, -1], [0, 0, 3, 80, 6, 1]]);
    const b = table([[1, 2, 3, 80, 6, -1], [0, 0, 3, 80, 6, 2], [0, 0, 3, 80, 6, 1]]);
    const s = new TupleSet(1);
    expect(s.add(a, 0)).toBe(true);
    expect(s.add(a, 1)).toBe(true);
    expect(s.add(a, 0)).toBe(false);
    expect(s.size).toBe(2);
    expect([0, 1, 2].map((i) => s.has(b, i))).toEqual([true, false, true]);
  });
});
