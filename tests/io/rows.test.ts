// The generic row helpers of src/io/rows.ts: take, concatenate, cut by time, sort by time (one implementation each).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argsortTime, concatTables, rowsInTime, sortByTime, takeRows } from '../../src/io/rows.js';
import { allocFlowTable, allocPacketTable } from '../../src/io/table.js';

describe('argsortTime', () => {
  it('equals a stable comparator sort (ties keep index order)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (xs) => {
        const t = Float64Array.from(xs);
        const want = Array.from(xs.keys()).sort((a, b) => t[a]! - t[b]! || a - b);
        expect(Array.from(argsortTime(t))).toEqual(want);
      }),
    );
  });
  it('is a permutation with NaN times last (in index order) when the numbers are out of order', () => {
    const t = Float64Array.from([3, 1, NaN, 2, NaN]);
    expect(Array.from(argsortTime(t))).toEqual([1, 3, 0, 2, 4]);
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
    expect(Array.from(rowsInTime(s, 1, 3).ts)).toEqual([1, 3]);
    expect(Array.from(rowsInTime(s, 1, 3, false).ts)).toEqual([1]);
    expect(rowsInTime(s, 0, 9)).toBe(s);
  });
  it('sortByTime is stable, returns a sorted table itself, and moves the 16-byte IPv6 columns with their rows', () => {
    const p = allocPacketTable(4, true);
    p.time.set([7, 2, 7, 1]);
    p.ttl.set([0, 1, 2, 3]);
    for (let i = 0; i < 4; i++) p.srcIp6!.fill(10 + i, 16 * i, 16 * i + 16);
    const s = sortByTime(p);
    expect(Array.from(s.time)).toEqual([1, 2, 7, 7]);
    expect(Array.from(s.ttl)).toEqual([3, 1, 0, 2]);
    expect(Array.from(s.srcIp6!.filter((_, k) => k % 16 === 0))).toEqual([13, 11, 10, 12]);
    expect(sortByTime(s)).toBe(s);
  });
  it('takeRows repeats and reorders rows of every column', () => {
    const t = allocFlowTable(3);
    t.ts.set([1, 2, 3]);
    t.label = ['a', 'b', 'c'];
    const r = takeRows(t, [2, 2, 0]);
    expect(r.length).toBe(3);
    expect(Array.from(r.ts)).toEqual([3, 3, 1]);
    expect(r.label).toEqual(['c', 'c', 'a']);
  });

  it('concatenating no tables gives an empty table of the kind that sorts and cuts (was: no columns, sortByTime threw)', () => {
    for (const kind of ['flows', 'packets'] as const) {
      const t = concatTables(kind, []);
      expect(t.kind).toBe(kind);
      expect(t.length).toBe(0);
      expect(sortByTime(t).length).toBe(0);
      expect(rowsInTime(t, 0, 1).length).toBe(0);
    }
  });
});
