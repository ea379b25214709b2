// The real-vs-real floor: split the real trace in two (by time, and by seeded random 5-tuple flows) and
// compute every metric between the halves, so synthetic-vs-real metrics can be read as ratios to it.
import { takeRows } from '../io/rows.js';
import { recordTimes, type Table } from '../io/table.js';
import { indexFlows, type FlowIndex } from './flows.js';
import { argsort } from './stats.js';
import { Rng } from '../core/rng.js';

export type SplitKind = 'time' | 'flows';

/** The two halves of a split, as row indices into the original table. */
export interface Split {
  a: Int32Array;
  b: Int32Array;
}

/** First half of the records in time order vs the second half (ties broken by row order). */
export function splitByTime(t: Table): Split {
  const time = recordTimes(t);
  const order = argsort(time);
  const h = Math.floor(t.length / 2);
  return { a: order.slice(0, h), b: order.slice(h) };
}

/** Each 5-tuple flow goes to half A or B with probability 1/2 (seeded); flows are never cut. */
export function splitByFlows(t: Table, seed: number, flowIndex?: FlowIndex): Split {
  const idx = flowIndex ?? indexFlows(t);
  const r = Rng.forPurpose(seed, 'split/flows');
  const side = new Uint8Array(idx.count);
  for (let f = 0; f < idx.count; f++) side[f] = r.next() < 0.5 ? 0 : 1;
  let na = 0;
  for (let i = 0; i < t.length; i++) if (side[idx.flowOf[i]!] === 0) na++;
  const a = new Int32Array(na);
  const b = new Int32Array(t.length - na);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < t.length; i++) {
    if (side[idx.flowOf[i]!] === 0) a[ia++] = i;
    else b[ib++] = i;
  }
  return { a, b };
}

/** Each record goes to half A or B with probability 1/2 (seeded); a 5-tuple may land on both sides. */
export function splitByRecords(t: Table, seed: number): Split {
  const r = Rng.forPurpose(seed, 'split/records');
  const side = new Uint8Array(t.length);
  let na = 0;
  for (let i = 0; i < t.length; i++) if ((side[i] = r.next() < 0.5 ? 0 : 1) === 0) na++;
  const a = new Int32Array(na);
  const b = new Int32Array(t.length - na);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < t.length; i++) {
    if (side[i] === 0) a[ia++] = i;
    else b[ib++] = i;
  }
  return { a, b };
}

/** Materialise a split into two tables. */
export function splitTables<T extends Table>(t: T, s: Split): [T, T] {
  return [takeRows(t, s.a), takeRows(t, s.b)];
}
