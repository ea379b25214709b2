// Row-level helpers on column tables, whichever kind: take rows, concatenate, select a time range, sort by time.
import type { Table } from './table.js';
import { allocFlowTable, allocPacketTable, recordTimes } from './table.js';

/** Rows `idx` of one column (`width` values per row; IPv6 address columns have 16). */
export function takeColumn<C>(col: C, width: number, idx: ArrayLike<number>): C {
  const m = idx.length;
  if (Array.isArray(col)) {
    const a = new Array<unknown>(m);
    for (let r = 0; r < m; r++) a[r] = col[idx[r]!];
    return a as C;
  }
  const src = col as unknown as { [i: number]: number; constructor: new (k: number) => { [i: number]: number } };
  const dst = new src.constructor(m * width);
  if (width === 1) for (let r = 0; r < m; r++) dst[r] = src[idx[r]!]!;
  else
    for (let r = 0; r < m; r++) {
      const s = idx[r]! * width;
      for (let w = 0; w < width; w++) dst[r * width + w] = src[s + w]!;
    }
  return dst as unknown as C;
}

/** Values per row of a column of a table with `n` rows. */
export function columnWidth(col: unknown, n: number): number {
  if (Array.isArray(col) || n === 0) return 1;
  return Math.max(1, Math.round((col as { length: number }).length / n));
}

/** A new table of the same kind holding rows `idx` (in that order). Per-row multi-byte columns (IPv6) follow. */
export function takeRows<T extends Table>(t: T, idx: ArrayLike<number>): T {
  const out: Record<string, unknown> = { kind: t.kind, length: idx.length };
  for (const [key, col] of Object.entries(t as unknown as Record<string, unknown>)) {
    if (key === 'kind' || key === 'length' || col === undefined || col === null) continue;
    out[key] = Array.isArray(col) || ArrayBuffer.isView(col) ? takeColumn(col, columnWidth(col, t.length), idx) : col;
  }
  return out as unknown as T;
}

/** Concatenate tables of one kind; a column missing from some table is zero / '' there. */
export function concatTables(kind: Table['kind'], parts: Table[]): Table {
  // no parts: an empty table with the kind's columns (callers sort it, read its times, report it as empty)
  if (parts.length === 0) return kind === 'flows' ? allocFlowTable(0) : allocPacketTable(0);
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out: Record<string, unknown> = { kind, length: n };
  const keys = new Set<string>();
  for (const p of parts) for (const [k, v] of Object.entries(p)) if (k !== 'kind' && k !== 'length' && v !== undefined) keys.add(k);
  for (const key of keys) {
    const proto = parts.map((p) => (p as unknown as Record<string, unknown>)[key]).find((v) => v !== undefined);
    if (Array.isArray(proto)) {
      const a: string[] = [];
      for (const p of parts) {
        const c = (p as unknown as Record<string, unknown>)[key] as string[] | undefined;
        for (let i = 0; i < p.length; i++) a.push(c ? c[i]! : '');
      }
      out[key] = a;
    } else if (ArrayBuffer.isView(proto)) {
      const first = parts.find((p) => (p as unknown as Record<string, unknown>)[key] !== undefined)!;
      const width = columnWidth(proto, first.length);
      type TA = { subarray(a: number, b: number): TA; set(a: TA, o: number): void };
      const Ctor = (proto as unknown as { constructor: new (k: number) => TA }).constructor;
      const dst = new Ctor(n * width);
      let at = 0;
      for (const p of parts) {
        const c = (p as unknown as Record<string, unknown>)[key] as TA | undefined;
        if (c) dst.set(c.subarray(0, p.length * width), at * width);
        at += p.length;
      }
      out[key] = dst;
    }
  }
  return out as unknown as Table;
}

/** Rows of `t` whose time lies in [lo, hi] (hi inclusive when `hiInclusive`); `t` itself when that is every row. */
export function rowsInTime<T extends Table>(t: T, lo: number, hi: number, hiInclusive = true): T {
  const time = recordTimes(t);
  const idx: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const x = time[i]!;
    if (x >= lo && (hiInclusive ? x <= hi : x < hi)) idx.push(i);
  }
  return idx.length === t.length ? t : takeRows(t, Uint32Array.from(idx));
}

/**
 * Indices 0..n−1 sorted by time, ties by index (stable; −0 and 0 tie); times already in order (NaN compares as in
 * order) give the identity, else NaN times go last. A native Float64Array sort of the times plus a lower-bound
 * placement pass is several times faster than a comparator sort of indices.
 */
export function argsortTime(time: Float64Array): Uint32Array {
  const n = time.length;
  const order = new Uint32Array(n);
  let sorted = true;
  for (let i = 1; i < n; i++) if (time[i]! < time[i - 1]!) { sorted = false; break; }
  if (sorted) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }
  const st = Float64Array.from(time).sort(); // NaNs sort to the end
  let numbers = n;
  while (numbers > 0 && Number.isNaN(st[numbers - 1]!)) numbers--;
  const used = new Uint32Array(n); // records already placed at each lower bound
  for (let i = 0; i < n; i++) {
    const t = time[i]!;
    let lo = numbers; // NaN: after every number
    if (t === t) {
      lo = 0;
      let hi = numbers;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (st[mid]! < t) lo = mid + 1;
        else hi = mid;
      }
    }
    order[lo + used[lo]!++] = i;
  }
  return order;
}

/** The rows of `t` in time order (stable: equal times keep their order); `t` itself when already sorted. */
export function sortByTime<T extends Table>(t: T): T {
  const time = recordTimes(t).subarray(0, t.length);
  const order = argsortTime(time);
  for (let i = 0; i < order.length; i++) if (order[i] !== i) return takeRows(t, order);
  return t;
}
