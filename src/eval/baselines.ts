// Built-in baselines that any metric can run on: an independent-marginals sampler and a flow bootstrap.
// Both return a table of the real trace's kind, time-sorted, reproducible from the seed.
import { ConfigError, expected } from '../errors.js';
import { columnWidth, sortByTime, takeColumn, takeRows } from '../io/rows.js';
import { recordTimes, type Table } from '../io/table.js';
import { indexFlows } from './flows.js';
import { Rng } from '../core/rng.js';

export type BaselineName = 'marginals' | 'bootstrap';
export const BASELINES: readonly BaselineName[] = ['marginals', 'bootstrap'];

/**
 * Every column drawn independently from its empirical marginal (rows sampled with replacement, a fresh
 * draw per column), `n` records (default: as many as the real trace). Keeps every marginal, breaks every
 * joint: 5-tuples, flows and header consistency are destroyed.
 */
export function marginalsBaseline<T extends Table>(real: T, seed: number, n = real.length): T {
  const r = Rng.forPurpose(seed, 'baseline/marginals');
  const out: Record<string, unknown> = { kind: real.kind, length: n };
  for (const [key, col] of Object.entries(real as unknown as Record<string, unknown>)) {
    if (key === 'kind' || key === 'length' || col === undefined || col === null) continue;
    if (!(Array.isArray(col) || ArrayBuffer.isView(col))) continue;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = r.int(real.length);
    out[key] = takeColumn(col, columnWidth(col, real.length), idx);
  }
  return sortByTime(out as unknown as T);
}

/**
 * Flow bootstrap: draw whole 5-tuple flows uniformly with replacement until at least `n` records.
 * A flow's first draw keeps its times; a repeated draw is shifted by a uniform offset, wrapping inside
 * the trace span, so copies do not stack on the same instants (they still share the 5-tuple).
 */
export function bootstrapBaseline<T extends Table>(real: T, seed: number, n = real.length): T {
  const r = Rng.forPurpose(seed, 'baseline/bootstrap');
  const idx = indexFlows(real);
  const time = recordTimes(real);
  const offsets = new Int32Array(idx.count + 1);
  for (let i = 0; i < real.length; i++) offsets[idx.flowOf[i]! + 1]! += 1;
  for (let f = 0; f < idx.count; f++) offsets[f + 1]! += offsets[f]!;
  const members = new Int32Array(real.length);
  const fill = offsets.slice(0, idx.count);
  for (let i = 0; i < real.length; i++) members[fill[idx.flowOf[i]!]!++] = i;
  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < real.length; i++) {
    if (time[i]! < t0) t0 = time[i]!;
    if (time[i]! > t1) t1 = time[i]!;
  }
  const span = Math.max(t1 - t0, 1);
  const rows: number[] = [];
  const shift: number[] = [];
  const drawn = new Uint8Array(idx.count);
  while (rows.length < n) {
    const f = r.int(idx.count);
    const off = drawn[f] ? r.next() * span : 0;
    drawn[f] = 1;
    for (let k = offsets[f]!; k < offsets[f + 1]!; k++) {
      rows.push(members[k]!);
      shift.push(off);
    }
  }
  const out = takeRows(real, rows);
  const t = recordTimes(out);
  for (let i = 0; i < out.length; i++) if (shift[i]! > 0) t[i] = t0 + ((t[i]! - t0 + shift[i]!) % span);
  return sortByTime(out);
}

export function makeBaseline<T extends Table>(name: string, real: T, seed: number): T {
  if (name === 'marginals') return marginalsBaseline(real, seed);
  if (name === 'bootstrap') return bootstrapBaseline(real, seed);
  throw new ConfigError(expected(`one of ${BASELINES.join(', ')}`, 'baseline', name), 'baseline');
}
