// Row-level helpers on column tables: take a subset of rows, concatenate, and validate the columns the
// evaluation reads (finite times and sizes), whichever table kind.
import { InputError } from '../errors.js';
import type { Table } from '../io/table.js';

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

/** Check the columns the metrics read: same kind, finite times and sizes; throws InputError naming the side and row. */
export function validateTable(t: Table, side: string): void {
  if (t.length === 0) throw new InputError(`${side} trace has no records`, side);
  const check = (name: string, col: ArrayLike<number> | undefined): void => {
    if (col === undefined) throw new InputError(`${side} trace lacks column ${name}`, side);
    if (col.length < t.length) throw new InputError(`${side} trace column ${name} has ${col.length} rows, expected ${t.length}`, side);
    for (let i = 0; i < t.length; i++) {
      const v = col[i]!;
      if (!Number.isFinite(v)) throw new InputError(`${side} trace: ${name} is not a finite number at record ${i + 1} (${v})`, side, { line: i + 1 });
    }
  };
  if (t.kind === 'packets') {
    check('time', t.time);
    check('pktLen', t.pktLen);
  } else {
    check('ts', t.ts);
    check('td', t.td);
    check('pkt', t.pkt);
    check('byt', t.byt);
  }
  for (const c of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto'] as const) check(c, t[c]);
}
