// Records → flows → chunks (spec §2.3): time sort, fixed-time / fixed-size chunks, 5-tuple flows, max flow length, flow tags.
import { ConfigError, expected } from '../errors.js';
import { indexFlows } from '../io/flow-key.js';
import { argsortTime } from '../io/rows.js';
import type { RecordView } from './records.js';

export interface ChunkingOptions {
  nChunks: number;
  chunking: 'fixedTime' | 'fixedSize';
  /** null: no cap. */
  maxFlowLen: number | null;
  longFlows: 'truncate' | 'drop';
  emptyChunks: 'skip' | 'error';
  /** Data-independent chunk edges (DP mode); records outside are dropped. */
  fixedRangeUs?: [number, number];
}

/** The flows of one chunk as CSR lists of record indices (each flow's records in time order). */
export interface ChunkFlows {
  /** Time-chunk index 0..nChunks−1 (empty chunks are skipped, so indices may have gaps). */
  index: number;
  /** The chunk's edges as the chunker made them (plan.edges[index], plan.edges[index + 1]); see ChunkPlan.edges. */
  startUs: number;
  endUs: number;
  /**
   * Times of the first and last record the chunker put in this chunk (before length caps). Chunks are disjoint time
   * intervals (fixedSize keeps equal timestamps together), so the trace's records with time in [firstUs, lastUs] are
   * exactly this chunk's records: what postprocess selects the real chunk by and truncates generated records to.
   */
  firstUs: number;
  lastUs: number;
  /** Global 5-tuple id of each flow, flows ordered by their first record in the chunk. */
  flowKeyIds: Uint32Array;
  /** CSR: records of flow f are recIdx[recStart[f] .. recStart[f+1]). */
  recStart: Uint32Array;
  recIdx: Uint32Array;
  /** Records in this chunk before the length cap. */
  recordsIn: number;
  /** Flows cut to maxFlowLen / flows dropped for being longer. */
  truncatedFlows: number;
  droppedFlows: number;
  droppedRecords: number;
}

export interface ChunkPlan {
  nChunks: number;
  /**
   * Chunk edges in µs (nChunks + 1), as the records were assigned: chunk k holds records with edges[k] ≤ t < edges[k+1],
   * except that the last chunk holding records also holds those at edges[nChunks] (the latest record; DP mode drops
   * records at or after its end edge instead). fixedTime: equal spans of [first, last] record time (DP: of the fixed
   * range). fixedSize: edges[k] = time of chunk k's first record, edges[nChunks] = the latest record's time; a chunk
   * left empty starts where the next one does (trailing ones at the latest record's time).
   */
  edges: Float64Array;
  /** Number of distinct 5-tuples over the whole trace. */
  nFlowKeys: number;
  /** presence[key * nChunks + c] = 1 when the 5-tuple has a record in time-chunk c (before length caps, as NetShare). */
  presence: Uint8Array;
  /** First time-chunk of each 5-tuple. */
  firstChunk: Int32Array;
  chunks: ChunkFlows[];
  /** Longest flow (records, after the cap) over all chunks. */
  maxLen: number;
  /** Records outside a fixed (DP) range. */
  outOfRange: number;
  warnings: string[];
}

export function planChunks(view: RecordView, opts: ChunkingOptions): ChunkPlan {
  const n = view.n;
  const time = view.time;
  const nc = opts.nChunks;
  const order = argsortTime(time);
  const warnings: string[] = [];
  let t0 = n > 0 ? time[order[0]!]! : 0;
  let t1 = n > 0 ? time[order[n - 1]!]! : 0;
  if (opts.fixedRangeUs) {
    if (opts.chunking === 'fixedSize') {
      throw new ConfigError(
        expected('"fixedTime" (DP mode needs data-independent chunk edges; fixed-size edges follow the data)', 'preprocess.chunking', opts.chunking),
        'preprocess.chunking',
      );
    }
    [t0, t1] = opts.fixedRangeUs;
  }
  const span = t1 - t0;
  const edges = new Float64Array(nc + 1);
  const chunkOf = new Int32Array(n).fill(-1);
  let outOfRange = 0;
  if (opts.chunking === 'fixedSize') {
    // ceil(N/n) records each in time order (spec §2.3), except that a boundary falling inside a run of equal
    // timestamps moves forward past the run: every chunk is then a time interval, its edges are real record times
    // and postprocess can recover each chunk's records by time alone.
    const perChunk = Math.ceil(n / nc);
    let b = 0; // first rank of chunk k
    for (let k = 0; k < nc; k++) {
      let next = Math.max(b, Math.min(n, (k + 1) * perChunk));
      while (next > 0 && next < n && time[order[next]!] === time[order[next - 1]!]) next++;
      edges[k] = b < n ? time[order[b]!]! : t1;
      for (let r = b; r < next; r++) chunkOf[order[r]!] = k;
      b = next;
    }
    edges[nc] = t1;
  } else {
    for (let k = 0; k <= nc; k++) edges[k] = t0 + (span * k) / nc;
    for (let r = 0; r < n; r++) {
      const i = order[r]!;
      const t = time[i]!;
      if (opts.fixedRangeUs && (t < t0 || t >= t1)) {
        outOfRange++;
        continue;
      }
      let k = span > 0 ? Math.floor(((t - t0) / span) * nc) : 0;
      if (k >= nc) k = nc - 1;
      // guard float rounding against the linspace edges
      while (k > 0 && t < edges[k]!) k--;
      while (k < nc - 1 && t >= edges[k + 1]!) k++;
      chunkOf[i] = k;
    }
  }
  if (outOfRange > 0) warnings.push(`${outOfRange} records outside the fixed time range were dropped`);

  // global 5-tuple ids in order of first appearance (in time order, records outside a fixed range left out)
  const inRange = outOfRange > 0 ? order.filter((i) => chunkOf[i]! >= 0) : order;
  const { flowOf: flowId, count: nKeys } = indexFlows(view.table, inRange);
  const presence = new Uint8Array(nKeys * nc);
  const firstChunk = new Int32Array(nKeys).fill(-1);
  const chunkCount = new Uint32Array(nc);
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    const k = chunkOf[i]!;
    if (k < 0) continue;
    const f = flowId[i]!;
    presence[f * nc + k] = 1;
    if (firstChunk[f]! < 0) firstChunk[f] = k;
    chunkCount[k]!++;
  }

  // group per chunk: local flow index by first appearance, then CSR fill
  const chunks: ChunkFlows[] = [];
  const local = new Int32Array(nKeys).fill(-1);
  const byChunk: number[][] = Array.from({ length: nc }, () => []);
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    const k = chunkOf[i]!;
    if (k >= 0) byChunk[k]!.push(i);
  }
  let maxLen = 0;
  for (let k = 0; k < nc; k++) {
    const recs = byChunk[k]!;
    if (recs.length === 0) {
      if (opts.emptyChunks === 'error') {
        throw new ConfigError(
          expected('chunks that each hold records (or preprocess.emptyChunks "skip")', 'preprocess.nChunks', nc) + `: chunk ${k} is empty`,
          'preprocess.nChunks',
        );
      }
      warnings.push(`chunk ${k} [${edges[k]}, ${edges[k + 1]}) µs has no records and is skipped`);
      continue;
    }
    const keys: number[] = [];
    const counts: number[] = [];
    for (const i of recs) {
      const f = flowId[i]!;
      let l = local[f]!;
      if (l < 0) {
        l = keys.length;
        local[f] = l;
        keys.push(f);
        counts.push(0);
      }
      counts[l]!++;
    }
    const cap = opts.maxFlowLen ?? Infinity;
    let truncatedFlows = 0;
    let droppedFlows = 0;
    let droppedRecords = 0;
    const keep = new Int32Array(keys.length); // new local index or -1
    let nf = 0;
    const lens: number[] = [];
    for (let l = 0; l < keys.length; l++) {
      const c = counts[l]!;
      if (c > cap) {
        if (opts.longFlows === 'drop') {
          keep[l] = -1;
          droppedFlows++;
          droppedRecords += c;
          continue;
        }
        truncatedFlows++;
        droppedRecords += c - cap;
      }
      keep[l] = nf++;
      lens.push(Math.min(c, cap));
    }
    const recStart = new Uint32Array(nf + 1);
    for (let f = 0; f < nf; f++) {
      recStart[f + 1] = recStart[f]! + lens[f]!;
      if (lens[f]! > maxLen) maxLen = lens[f]!;
    }
    const recIdx = new Uint32Array(recStart[nf]!);
    const fill = new Uint32Array(nf);
    const flowKeyIds = new Uint32Array(nf);
    for (let l = 0; l < keys.length; l++) if (keep[l]! >= 0) flowKeyIds[keep[l]!] = keys[l]!;
    for (const i of recs) {
      const l = local[flowId[i]!]!;
      const f = keep[l]!;
      if (f < 0 || fill[f]! >= lens[f]!) continue;
      recIdx[recStart[f]! + fill[f]!] = i;
      fill[f]!++;
    }
    for (const f of keys) local[f] = -1;
    chunks.push({
      index: k,
      startUs: edges[k]!,
      endUs: edges[k + 1]!,
      firstUs: time[recs[0]!]!,
      lastUs: time[recs[recs.length - 1]!]!,
      flowKeyIds,
      recStart,
      recIdx,
      recordsIn: recs.length,
      truncatedFlows,
      droppedFlows,
      droppedRecords,
    });
  }
  return { nChunks: nc, edges, nFlowKeys: nKeys, presence, firstChunk, chunks, maxLen, outOfRange, warnings };
}

/**
 * Flow tags `multichunk_dep_v2` of one flow in chunk `c`: [startFromThisChunk one-hot, chunk_0 one-hot, …], 0 → [1,0],
 * 1 → [0,1]. startFromThisChunk = the 5-tuple's first chunk is c; chunk_i = the 5-tuple has records in chunk i.
 */
export function writeFlowTags(plan: ChunkPlan, key: number, c: number, out: Float32Array, off: number): void {
  const nc = plan.nChunks;
  const start = plan.firstChunk[key] === c ? 1 : 0;
  out[off + start] = 1;
  for (let i = 0; i < nc; i++) out[off + 2 + 2 * i + plan.presence[key * nc + i]!] = 1;
}

export function flowTagDim(nChunks: number): number {
  return 2 + 2 * nChunks;
}
