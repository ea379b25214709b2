// NetShare flows for evaluation: the record → 5-tuple assignment (io's, src/io/flow-key.ts, re-exported here for the
// metrics) and the per-flow aggregates and record order the joint metrics derive from it.
import type { FlowIndex } from '../io/flow-key.js';
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { argsort } from './stats.js';

export { indexFlows, tupleColumns, TupleSet, type FlowIndex } from '../io/flow-key.js';

/** Per-flow aggregates. For packets: packets, IP bytes, duration (µs). For flow records: summed pkt/byt, and duration from first ts to max(ts + td). */
export interface FlowAggregates {
  packets: Float64Array;
  bytes: Float64Array;
  /** µs */
  duration: Float64Array;
  /** Records (packets, or NetFlow records) per flow: NetShare's flow size. */
  records: Float64Array;
}

export function flowAggregates(t: Table, idx: FlowIndex): FlowAggregates {
  const k = idx.count;
  const packets = new Float64Array(k);
  const bytes = new Float64Array(k);
  const records = new Float64Array(k);
  const start = new Float64Array(k).fill(Infinity);
  const end = new Float64Array(k).fill(-Infinity);
  const flowOf = idx.flowOf;
  if (t.kind === 'packets') {
    const time = (t as PacketTable).time;
    const len = (t as PacketTable).pktLen;
    for (let i = 0; i < t.length; i++) {
      const f = flowOf[i]!;
      records[f]! += 1;
      packets[f]! += 1;
      bytes[f]! += len[i]!;
      const ts = time[i]!;
      if (ts < start[f]!) start[f] = ts;
      if (ts > end[f]!) end[f] = ts;
    }
  } else {
    const ft = t as FlowTable;
    const { ts: time, pkt, byt, td } = ft;
    for (let i = 0; i < t.length; i++) {
      const f = flowOf[i]!;
      records[f]! += 1;
      packets[f]! += pkt[i]!;
      bytes[f]! += byt[i]!;
      const ts = time[i]!;
      if (ts < start[f]!) start[f] = ts;
      const e = ts + td[i]! * 1e6;
      if (e > end[f]!) end[f] = e;
    }
  }
  const duration = new Float64Array(k);
  for (let f = 0; f < k; f++) duration[f] = Math.max(0, end[f]! - start[f]!);
  return { packets, bytes, duration, records };
}

/**
 * Record order grouped by flow, time-sorted within each flow: returns `order` (record indices) and
 * `offsets` (flow f's records are order[offsets[f] .. offsets[f+1])).
 */
export function recordsByFlow(t: Table, idx: FlowIndex): { order: Int32Array; offsets: Int32Array } {
  const k = idx.count;
  const offsets = new Int32Array(k + 1);
  for (let i = 0; i < t.length; i++) offsets[idx.flowOf[i]! + 1]! += 1;
  for (let f = 0; f < k; f++) offsets[f + 1]! += offsets[f]!;
  const fill = offsets.slice(0, k);
  const order = new Int32Array(t.length);
  // Visit records in time order so each flow's slice comes out time-sorted.
  const time = recordTimes(t);
  let sorted = true;
  for (let i = 1; i < t.length && sorted; i++) if (time[i]! < time[i - 1]!) sorted = false;
  let byTime: Int32Array;
  if (sorted) {
    byTime = new Int32Array(t.length);
    for (let i = 0; i < t.length; i++) byTime[i] = i;
  } else byTime = argsort(time);
  for (let r = 0; r < t.length; r++) {
    const i = byTime[r]!;
    const f = idx.flowOf[i]!;
    order[fill[f]!] = i;
    fill[f]! += 1;
  }
  return { order, offsets };
}
