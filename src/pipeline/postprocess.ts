// The postprocess stage (spec §4.3): truncate each chunk's candidates to the chunk's real time range, choose the best
// checkpoint per chunk by the metric rank-sum (last checkpoint in DP mode), concatenate, sort by time, write the
// trace: pcap through the native writer for packet inputs, NetFlow CSV in the input's schema for flow inputs.
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, InputError, NetShareError, expected } from '../errors.js';
import type { NetShareConfig } from '../config/schema.js';
import { copyFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { indexFlows, TupleSet } from '../io/flow-key.js';
import { concatTables, rowsInTime, sortByTime } from '../io/rows.js';
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { flowSchemaOf, isNfcapdPath, writeFlowFile } from '../io/flow-files.js';
import { writeFlowCsvParts, type FlowCsvSchema } from '../io/netflow-csv.js';
import { snapToTokens } from '../io/address-tokens.js';
import type { FlowSchemaInfo } from '../io/read-trace.js';
import { NETSHARE_METRICS, compareProfiles, metricsFor, profile } from '../eval/fidelity.js';
import { validateTable } from '../eval/rows.js';
import { rankData } from '../eval/stats.js';
import { loadPreprocessSummary, type PreprocessSummaryFile } from './chunk-tensors.js';
import type { GenerateStageResult } from './generate.js';
import { readTableFile, selectionPath, syntheticPath } from './workdir.js';

function l4HeaderLen(proto: number): number {
  return proto === 6 ? 20 : proto === 17 || proto === 1 || proto === 58 ? 8 : 0;
}

/**
 * Make generated packet rows writable as valid packets: total length at least the headers (and ≤ 65535), IPv4 flag
 * and offset ranges, ICMP type/code from the port columns in 0..255, and TCP flags/window where the model has none
 * (ACK, 65535). Returns how many rows needed a fix.
 */
export function sanitizePackets(t: PacketTable, modelsTcpFlags: boolean): number {
  let fixed = 0;
  for (let i = 0; i < t.length; i++) {
    let changed = false;
    if (t.ipVersion[i] !== 6) {
      t.ipVersion[i] = 4;
      if (t.ihl[i]! < 20 || t.ihl[i]! > 60 || t.ihl[i]! % 4 !== 0) { t.ihl[i] = 20; changed = true; }
    }
    if (t.flags[i]! > 7) { t.flags[i] = 0; changed = true; }
    if (t.ipVersion[i] === 6 && t.flags[i]! > 1) { t.flags[i] = 0; changed = true; }
    if (t.fragOffset[i]! > 8191) { t.fragOffset[i] = 8191; changed = true; }
    if (t.ipId[i]! > 0xffff) { t.ipId[i] = t.ipId[i]! & 0xffff; changed = true; }
    const p = t.proto[i]!;
    if (p === 1 || p === 58) {
      if (t.srcPort[i]! > 255) { t.srcPort[i] = t.srcPort[i]! & 255; changed = true; }
      if (t.dstPort[i]! > 255) { t.dstPort[i] = t.dstPort[i]! & 255; changed = true; }
    }
    const hdr = (t.ipVersion[i] === 6 ? 40 : t.ihl[i]!) + (t.fragOffset[i] === 0 ? l4HeaderLen(p) : 0);
    if (t.pktLen[i]! < hdr) { t.pktLen[i] = hdr; changed = true; }
    if (t.pktLen[i]! > 65535) { t.pktLen[i] = 65535; changed = true; }
    if (!modelsTcpFlags && p === 6) {
      if (t.tcpFlags[i] === 0) t.tcpFlags[i] = 0x10;
      if (t.tcpWindow[i] === 0) t.tcpWindow[i] = 65535;
    }
    if (!(t.time[i]! >= 0)) { t.time[i] = 0; changed = true; }
    if (changed) fixed++;
  }
  return fixed;
}

/**
 * Snap every value of `syn` to the nearest value present in `real` (ties to the lower): ICMP type and code (snapIcmp).
 * Not the fragment offset any more (matchQuantiles): nearest-value snapping keeps a collapsed output collapsed.
 */
export function snapToSupport(syn: { [i: number]: number; length: number }, n: number, real: ArrayLike<number>): void {
  const seen = Float64Array.from(new Set(Array.from(real))).sort();
  if (seen.length === 0) return;
  for (let i = 0; i < n; i++) {
    const v = syn[i]!;
    let lo = 0;
    let hi = seen.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seen[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    const a = seen[Math.max(0, lo - 1)]!;
    const b = seen[lo]!;
    syn[i] = v - a <= b - v ? a : b;
  }
}

/**
 * Give `syn` the real marginal of `real` while keeping the generated order (quantile matching): the row of generated
 * rank r (ties by row) gets the real value at quantile (r + ½) / n. Used for the IPv4 fragment offset, a continuous
 * model output of a field that is almost always 0: nearest-value snapping turned every generated packet of CAIDA-10k
 * (99.9% offset 0, a few at 172–185; the model's outputs near 0.02 × 8191) into a non-first fragment, which the pcap
 * writer then writes without its TCP/UDP header — every port and TCP flag of the synthetic trace lost. With quantile
 * matching the share of fragments is the real share, and the offsets are offsets of the training data.
 */
export function matchQuantiles(syn: { [i: number]: number; length: number }, n: number, real: ArrayLike<number>): void {
  if (n === 0 || real.length === 0) return;
  const sorted = Float64Array.from(real).sort();
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => syn[a]! - syn[b]! || a - b);
  const m = sorted.length;
  for (let r = 0; r < n; r++) syn[order[r]!] = sorted[Math.min(m - 1, Math.floor(((r + 0.5) / n) * m))]!;
}

/**
 * ICMP rows carry type/code in the port columns, but the port embedding is shared with TCP/UDP: snap each ICMP row's
 * type and code to the nearest ones of the real ICMP (or ICMPv6) packets, echo request (8/0, v6 128/0) when none.
 */
export function snapIcmp(syn: PacketTable, real: PacketTable): void {
  for (const proto of [1, 58]) {
    const rows: number[] = [];
    for (let i = 0; i < syn.length; i++) if (syn.proto[i] === proto) rows.push(i);
    if (rows.length === 0) continue;
    const types: number[] = [];
    const codes: number[] = [];
    for (let i = 0; i < real.length; i++) {
      if (real.proto[i] !== proto) continue;
      types.push(real.srcPort[i]!);
      codes.push(real.dstPort[i]!);
    }
    if (types.length === 0) {
      types.push(proto === 1 ? 8 : 128);
      codes.push(0);
    }
    const t = Float64Array.from(rows, (i) => syn.srcPort[i]!);
    const c = Float64Array.from(rows, (i) => syn.dstPort[i]!);
    snapToSupport(t, t.length, types);
    snapToSupport(c, c.length, codes);
    rows.forEach((i, j) => {
      syn.srcPort[i] = t[j]!;
      syn.dstPort[i] = c[j]!;
    });
  }
}

/** NetFlow counters as the input's schema holds them: whole packets ≥ 1 and bytes ≥ 1, durations ≥ 0. */
export function sanitizeFlows(t: FlowTable): void {
  for (let i = 0; i < t.length; i++) {
    t.pkt[i] = Math.max(1, Math.round(t.pkt[i]!));
    t.byt[i] = Math.max(1, Math.round(t.byt[i]!));
    if (!(t.td[i]! >= 0)) t.td[i] = 0;
    if (!(t.ts[i]! >= 0)) t.ts[i] = 0;
  }
}

export interface Candidate {
  chunk: number;
  pass: number;
  iteration: number;
  path: string;
}

/** The metric set that chooses checkpoints (config `postprocess.selectionMetrics`), resolved to names. */
export interface SelectionMetrics {
  /** `netshare`: NetShare's own metrics (the default); `all`: every reported metric; `custom`: the config's list. */
  set: 'netshare' | 'all' | 'custom';
  metrics: string[];
}

/**
 * Resolve `postprocess.selectionMetrics` for the config's dataset; a name that is not a metric of that kind (or a
 * name given twice) is a ConfigError naming the key. Checked before any stage runs and again by postprocess.
 */
export function selectionMetrics(cfg: Pick<NetShareConfig, 'global' | 'postprocess'>): SelectionMetrics {
  const kind = cfg.global.dataset === 'pcap' ? 'packets' : 'flows';
  const sel = cfg.postprocess.selectionMetrics;
  const known = metricsFor(kind).map((m) => m.name);
  if (sel === 'netshare') return { set: 'netshare', metrics: [...NETSHARE_METRICS[kind]] };
  if (sel === 'all') return { set: 'all', metrics: known };
  sel.forEach((name, i) => {
    const key = `postprocess.selectionMetrics.${i}`;
    if (!known.includes(name)) throw new ConfigError(expected(`"netshare", "all" or names of ${kind === 'packets' ? 'packet' : 'NetFlow'} metrics (${known.join(', ')})`, key, name), key);
    if (sel.indexOf(name) !== i) throw new ConfigError(expected('each metric named once', key, name), key);
  });
  return { set: 'custom', metrics: [...sel] };
}

export interface ChunkSelection {
  chunk: number;
  realRecords: number;
  timeRange: [number, number];
  candidates: { iteration: number; records: number; rankSum: number | null; metrics: Record<string, number | null> }[];
  best: number;
  /**
   * How `best` was chosen: `rank-sum` over `metrics` (the configured set less any metric undefined for some
   * candidate), or `last-checkpoint` (DP mode, a single candidate, or nothing to compare with).
   */
  selectedBy: { rule: 'rank-sum' | 'last-checkpoint'; set: SelectionMetrics['set']; metrics: string[] };
  /**
   * What the candidates ranked were: generated from a seeded sample of `sampleFlows` of the chunk's `flows` merged
   * attribute rows (generate.ts, issue 19; only the chosen checkpoint is then generated in full), or absent when every
   * checkpoint's full output was ranked here.
   */
  selectedOn?: { sampleFlows: number; flows: number };
}

/**
 * Rank one chunk's candidates (one per checkpoint, iteration order) against its real records cut to [rmin, rmax]:
 * NetShare's rank-sum over the configured metrics, or the last checkpoint in DP mode / with a single candidate / with
 * no real records. Used by postprocess on full candidates and by generate on the per-checkpoint samples.
 */
export async function rankChunkCandidates(
  chunk: number,
  realK: Table,
  timeRange: [number, number],
  mine: readonly Pick<Candidate, 'iteration' | 'path'>[],
  selSet: SelectionMetrics,
  dp: boolean,
  onScored?: (iteration: number) => void,
): Promise<ChunkSelection> {
  const [rmin, rmax] = timeRange;
  const metrics: (Record<string, number | null> | null)[] = [];
  const sizes: number[] = [];
  const selectByMetrics = !dp && mine.length > 1 && realK.length > 0;
  const realProfile = selectByMetrics ? profile(realK, { seed: 1 }) : undefined;
  for (const c of mine) {
    if (!selectByMetrics) {
      metrics.push(null);
      sizes.push(-1);
      continue;
    }
    const syn = rowsInTime(await readTableFile(c.path), rmin, rmax);
    sizes.push(syn.length);
    if (syn.length === 0) {
      metrics.push(null);
      continue;
    }
    validateTable(syn, c.path);
    metrics.push(compareProfiles(realProfile!, profile(syn, { seed: 1 })));
    onScored?.(c.iteration);
  }
  const { best, rankSums, used } = rankSumSelect(metrics, selSet.metrics);
  return {
    chunk,
    realRecords: realK.length,
    timeRange: [rmin, rmax],
    candidates: mine.map((c, i) => ({ iteration: c.iteration, records: sizes[i]!, rankSum: rankSums[i]!, metrics: metrics[i] ?? {} })),
    best: mine[best]!.iteration,
    selectedBy: { rule: selectByMetrics && used.length > 0 ? 'rank-sum' : 'last-checkpoint', set: selSet.set, metrics: used },
  };
}

/**
 * NetShare's choose_best_model: rank each candidate per metric (scipy rankdata, lower metric = better), sum the ranks,
 * take the argmin. Only the metrics named in `names` count (default: every metric of the candidates); metrics undefined
 * (null) for any candidate are left out (`used` lists the ones ranked); empty candidates rank last.
 */
export function rankSumSelect(metrics: (Record<string, number | null> | null)[], names?: readonly string[]): { best: number; rankSums: (number | null)[]; used: string[] } {
  const live = metrics.map((m, i) => (m ? i : -1)).filter((i) => i >= 0);
  if (live.length === 0) return { best: metrics.length - 1, rankSums: metrics.map(() => null), used: [] };
  const used = (names ?? Object.keys(metrics[live[0]!]!)).filter((k) => live.every((i) => metrics[i]![k] !== null && metrics[i]![k] !== undefined && Number.isFinite(metrics[i]![k] as number)));
  const sums = new Float64Array(live.length);
  for (const k of used) {
    const r = rankData(live.map((i) => metrics[i]![k] as number));
    for (let j = 0; j < live.length; j++) sums[j] += r[j]!;
  }
  let bj = 0;
  // ties: the later checkpoint (more training) wins
  for (let j = 1; j < live.length; j++) if (sums[j]! <= sums[bj]!) bj = j;
  const rankSums: (number | null)[] = metrics.map(() => null);
  live.forEach((i, j) => (rankSums[i] = sums[j]!));
  return { best: live[bj]!, rankSums, used };
}

/**
 * The real records of the `j`-th chunk of `summary.chunks`: exactly those the chunker put there, recovered from the
 * stored [first, last] record times (chunks are disjoint time intervals; see PreprocessSummaryFile.recordRangesUs).
 */
export function chunkRealRows(real: Table, summary: Pick<PreprocessSummaryFile, 'recordRangesUs'>, j: number): Table {
  const [lo, hi] = summary.recordRangesUs[j]!;
  return rowsInTime(real, lo, hi);
}

/**
 * The synthetic trace made of one checkpoint's candidates per chunk: each candidate cut to its chunk's real time range,
 * pass p shifted by p trace spans, all concatenated and sorted by time, then cut to `durationUs` after `first` when
 * given. Not yet sanitised (finishTrace). Postprocess calls it with the chosen checkpoints; bench/fidelity.ts with the
 * k-th checkpoint of every chunk (the learning curve).
 */
export async function assembleTrace(
  kind: Table['kind'],
  picks: readonly { timeRange: readonly [number, number]; candidates: readonly Pick<Candidate, 'pass' | 'path'>[] }[],
  opts: { first: number; span: number; durationUs?: number; counts?: { generated: number; inRange: number } },
): Promise<Table> {
  const parts: Table[] = [];
  for (const pick of picks) {
    for (const c of pick.candidates) {
      const all = await readTableFile(c.path);
      const t = rowsInTime(all, pick.timeRange[0], pick.timeRange[1]);
      if (opts.counts) {
        opts.counts.generated += all.length;
        opts.counts.inRange += t.length;
      }
      if (c.pass > 0) {
        const tt = recordTimes(t);
        for (let i = 0; i < tt.length; i++) tt[i] = tt[i]! + c.pass * opts.span;
      }
      parts.push(t);
    }
  }
  const table = sortByTime(concatTables(kind, parts));
  return opts.durationUs !== undefined ? rowsInTime(table, opts.first, opts.first + opts.durationUs, false) : table;
}

/**
 * Make an assembled trace writable, in place: packets get the real trace's fragment-offset marginal (matchQuantiles),
 * ICMP type/code snapped to the real trace's and header fields in range (sanitizePackets); flows get whole counters (sanitizeFlows). Returns how many
 * packet rows needed a fix (0 for flows).
 */
export function finishTrace(table: Table, real: Table, cfg: Pick<NetShareConfig, 'preprocess'>): number {
  if (table.kind === 'flows') {
    sanitizeFlows(table);
    return 0;
  }
  if (real.kind === 'packets') {
    matchQuantiles(table.fragOffset, table.length, real.fragOffset.subarray(0, real.length));
    snapIcmp(table, real);
  }
  return sanitizePackets(table, cfg.preprocess.timeseries.some((f) => f.column === 'tcp_flags'));
}

/**
 * Why the assembled trace is empty, at the first step that left nothing: no flows sampled or kept by the merge, no
 * records generated for them, none inside the chunks' real time ranges, or none in the first --duration; and what to try.
 */
export function emptyTraceMessage(
  generated: Pick<GenerateStageResult, 'chunks'>,
  counts: { generated: number; inRange: number },
  kind: Table['kind'],
  dp: boolean,
  durationUs?: number,
): string {
  const rec = kind === 'packets' ? 'packets' : 'flow records';
  const sampled = generated.chunks.reduce((a, c) => a + c.startFlows, 0);
  const merged = generated.chunks.reduce((a, c) => a + (c.mergedFlows[0] ?? 0), 0);
  const tryDp = dp
    ? 'with DP the noise can leave a model that generates nothing useful: raise ε (global.dp.epsilon) or lower σ, pretrain on a public trace (--public), train longer, or use fewer, larger chunks (every chunk pays for its own steps)'
    : 'train longer (model.iterations) or check the input';
  let what: string;
  if (generated.chunks.length > 0 && sampled === 0) {
    what = `the models sampled no flows${dp ? ' (the noisy flow counts asked for none)' : ''}`;
  } else if (generated.chunks.length > 0 && merged === 0) {
    what = `of the ${sampled} flows the ${dp ? 'DP ' : ''}models sampled, none starts in its own chunk (flow tags), so the merge kept none`;
  } else if (counts.generated === 0) {
    what = `the ${dp ? 'DP ' : ''}models generated no valid ${rec} for their ${merged > 0 ? `${merged} ` : ''}flows (every generated step had the generation flag off)`;
  } else if (counts.inRange === 0) {
    what = `all ${counts.generated} generated ${rec} fall outside their chunks' real time ranges (postprocess keeps only those inside)`;
  } else {
    what = `the ${counts.inRange} generated ${rec} inside the chunks' time ranges all fall after the first ${(durationUs ?? 0) / 1e6} s (--duration)`;
    return `the synthetic trace is empty: ${what}; use a longer --duration`;
  }
  return `the synthetic trace is empty: ${what}; ${tryDp}`;
}

export interface PostprocessOptions {
  workdir: string;
  config: NetShareConfig;
  /** The real records the model was trained on (the input less any held-out flows), already read. */
  real: Table;
  /** The input file (for its NetFlow schema). */
  input: string;
  generated: GenerateStageResult;
  /** Output file; also written to <wd>/synthetic.{pcap,csv}. */
  out?: string;
  /** Keep only records in the first `durationUs` after the trace start. */
  durationUs?: number;
  /** false: assemble the whole trace before writing it, even where a NetFlow CSV could be streamed (tests compare the two). */
  stream?: boolean;
  onProgress?: (done: number, total: number, info?: string) => void;
}

export interface PostprocessResult {
  output: string;
  out?: string;
  records: number;
  flows: number;
  selection: { chunk: number; best: number; candidates: number; rule: ChunkSelection['selectedBy']['rule']; metrics: string[] }[];
  /** The configured selection metric set (each chunk's `metrics` may leave out ones undefined for its candidates). */
  selectionMetrics: SelectionMetrics;
  sanitizedRows: number;
  format: string;
  /** The output was written a candidate at a time (streamFlowTrace), not assembled whole. */
  streamed: boolean;
  seconds: { select: number; write: number };
}

/** The schema the synthetic NetFlow trace is written in: the input's (as preprocessing read it), else NetShare's. */
async function outputFlowSchema(input: string, summary: PreprocessSummaryFile): Promise<FlowSchemaInfo> {
  // the input's schema (read as preprocessing read it); address tokens of the input go back as the tokens
  let info: FlowSchemaInfo = { schema: 'netshare' };
  try {
    info = (await flowSchemaOf(input, summary.read ?? {})) ?? info;
  } catch {
    /* the input was read before; a table passed in by a library caller may have no file behind it */
  }
  if (info.schema === 'custom') info = { schema: 'netshare' };
  // an nfcapd input: the workdir's synthetic trace is nfdump-style CSV (nfdump's own names); --out x.nfcapd writes nfcapd
  if (info.schema === 'nfcapd') info = { schema: 'ugr16' };
  return info;
}

/**
 * The NetFlow output written streaming (issue 19): each chosen candidate read, cut to its chunk's time range, sorted,
 * sanitised, its addresses snapped to the input's tokens and appended to the CSV, one candidate in memory at a time.
 * The bytes equal those of assembleTrace + finishTrace + writeFlowFile whenever the candidates' time ranges follow
 * each other in assembleTrace's order (one time pass: chunks are disjoint in time, so sorting the concatenation sorts
 * each part); undefined (the caller assembles the whole table) otherwise, and for Zeek and nfcapd outputs.
 */
async function streamFlowTrace(
  wd: string,
  dataset: PreprocessSummaryFile['dataset'],
  opts: PostprocessOptions,
  picks: readonly { timeRange: readonly [number, number]; candidates: readonly Pick<Candidate, 'pass' | 'path'>[] }[],
  a: { first: number; span: number; durationUs?: number; counts: { generated: number; inRange: number } },
): Promise<Omit<PostprocessResult, 'selection' | 'selectionMetrics' | 'sanitizedRows' | 'streamed' | 'seconds'> | undefined> {
  const summary = await loadPreprocessSummary(wd);
  const info = await outputFlowSchema(opts.input, summary);
  if (info.schema === 'zeek' || (opts.out && isNfcapdPath(resolve(opts.out)))) return undefined;
  // assembleTrace's order: chunk by chunk, each chunk's passes; every part's times must follow the previous part's
  const parts = picks.flatMap((pick) => pick.candidates.map((c) => ({ path: c.path, lo: pick.timeRange[0] + c.pass * a.span, hi: pick.timeRange[1] + c.pass * a.span, pass: c.pass, range: pick.timeRange })));
  for (let i = 1; i < parts.length; i++) if (!(parts[i - 1]!.hi <= parts[i]!.lo)) return undefined;
  const { loadEncoders } = await import('./chunk-tensors.js');
  const tokens = (await loadEncoders(wd)).addressTokens;
  const tuples = new TupleSet();
  let records = 0;
  const output = syntheticPath(wd, dataset);
  async function* tables(): AsyncGenerator<FlowTable> {
    for (const p of parts) {
      const all = await readTableFile(p.path);
      let t = rowsInTime(all, p.range[0], p.range[1]) as FlowTable;
      a.counts.generated += all.length;
      a.counts.inRange += t.length;
      if (t.kind !== 'flows') throw new InputError(`${p.path} holds ${t.kind}, not flow records`, p.path);
      if (p.pass > 0) for (let i = 0; i < t.length; i++) t.ts[i] = t.ts[i]! + p.pass * a.span;
      t = sortByTime(t);
      if (a.durationUs !== undefined) t = rowsInTime(t, a.first, a.first + a.durationUs, false);
      sanitizeFlows(t);
      if (tokens?.size) {
        snapToTokens([t.srcIp, t.dstIp], t.length, tokens);
        t.addressTokens = tokens;
      }
      for (let i = 0; i < t.length; i++) tuples.add(t, i);
      records += t.length;
      yield t;
    }
  }
  const w = await writeFlowCsvParts(output, tables(), { schema: info.schema as FlowCsvSchema });
  if (w.rows === 0) {
    await rm(output, { force: true });
    throw new NetShareError(emptyTraceMessage(opts.generated, a.counts, 'flows', Boolean(opts.config.global.dp), a.durationUs));
  }
  let out: string | undefined;
  if (opts.out) {
    out = resolve(opts.out);
    if (out !== output) await copyFileAtomic(output, out);
  }
  return { output, ...(out ? { out } : {}), records, flows: tuples.size, format: `csv (${info.schema} schema)` };
}

/** Run the postprocess stage (the caller wraps this in runStage). */
export async function postprocessStage(opts: PostprocessOptions): Promise<PostprocessResult> {
  const wd = opts.workdir;
  const selSet = selectionMetrics(opts.config);
  const summary = await loadPreprocessSummary(wd);
  const real = opts.real;
  const time = recordTimes(real);
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < time.length; i++) {
    if (time[i]! < first) first = time[i]!;
    if (time[i]! > last) last = time[i]!;
  }
  const span = Math.max(1, last - first);
  const t0 = performance.now();
  const selections: ChunkSelection[] = [];
  const bestByChunk = new Map<number, number>();
  const cands = opts.generated.candidates;
  let done = 0;
  for (const [j, k] of summary.chunks.entries()) {
    const realK = chunkRealRows(real, summary, j);
    const [rmin, rmax] = summary.recordRangesUs[j]!;
    const mine = cands.filter((c) => c.chunk === k && c.pass === 0).sort((a, b) => a.iteration - b.iteration);
    if (mine.length === 0) {
      selections.push({ chunk: k, realRecords: realK.length, timeRange: [rmin, rmax], candidates: [], best: -1, selectedBy: { rule: 'last-checkpoint', set: selSet.set, metrics: [] } });
      continue;
    }
    // chosen by the generate stage on per-checkpoint samples: only the chosen checkpoint was generated in full
    const pre = opts.generated.selection?.chunks.find((s) => s.chunk === k);
    const sel = pre
      ? { ...pre.ranking, realRecords: realK.length, timeRange: [rmin, rmax] as [number, number], selectedOn: { sampleFlows: pre.sampleFlows, flows: pre.flows } }
      : await rankChunkCandidates(k, realK, [rmin, rmax], mine, selSet, opts.config.global.dp !== false, (it) => opts.onProgress?.(++done, cands.length, `chunk ${k} ckpt ${it}`));
    bestByChunk.set(k, sel.best);
    selections.push(sel);
  }
  const t1 = performance.now();

  const kind: Table['kind'] = summary.dataset === 'pcap' ? 'packets' : 'flows';
  const picks = selections.filter((sel) => sel.best >= 0 && sel.realRecords > 0).map((sel) => ({ timeRange: sel.timeRange, candidates: cands.filter((x) => x.chunk === sel.chunk && x.iteration === sel.best) }));
  const counts = { generated: 0, inRange: 0 };
  const assembleOpts = { first, span, counts, ...(opts.durationUs !== undefined ? { durationUs: opts.durationUs } : {}) };
  // NetFlow CSV of one time pass: written a candidate at a time (streamFlowTrace), not assembled whole
  const streamed = kind === 'flows' && opts.stream !== false ? await streamFlowTrace(wd, summary.dataset, opts, picks, assembleOpts) : undefined;
  if (streamed) {
    const t2 = performance.now();
    await writeJsonAtomic(selectionPath(wd), { selectionMetrics: selSet, selections, dp: opts.config.global.dp });
    return {
      ...streamed,
      selection: selections.map((s) => ({ chunk: s.chunk, best: s.best, candidates: s.candidates.length, rule: s.selectedBy.rule, metrics: s.selectedBy.metrics })),
      selectionMetrics: selSet,
      sanitizedRows: 0,
      streamed: true,
      seconds: { select: (t1 - t0) / 1000, write: (t2 - t1) / 1000 },
    };
  }
  const table = await assembleTrace(kind, picks, assembleOpts);
  if (table.length === 0) throw new NetShareError(emptyTraceMessage(opts.generated, counts, kind, Boolean(opts.config.global.dp), opts.durationUs));
  const sanitizedRows = finishTrace(table, real, opts.config);
  const output = syntheticPath(wd, summary.dataset);
  let format: string;
  if (table.kind === 'packets') {
    const { writePcap } = await import('../native/writer.js');
    await writePcap(output, table, { format: 'pcap', mode: 'header-only', linktype: 'raw' });
    format = 'pcap';
  } else {
    const info = await outputFlowSchema(opts.input, summary);
    const { loadEncoders } = await import('./chunk-tensors.js');
    const tokens = (await loadEncoders(wd)).addressTokens;
    if (tokens?.size) {
      // generated 240/4 addresses are token hosts: the nearest token's, so the output names them as the input did
      snapToTokens([table.srcIp, table.dstIp], table.length, tokens);
      (table as FlowTable).addressTokens = tokens;
    }
    const w = await writeFlowFile(output, table as FlowTable, info);
    format = w.schema.startsWith('zeek') ? `Zeek conn.log (${w.schema})` : `csv (${w.schema} schema)`;
  }
  let out: string | undefined;
  if (opts.out) {
    out = resolve(opts.out);
    // --out x.nfcapd: the records themselves through nfdump's collector (the workdir keeps the CSV)
    if (table.kind === 'flows' && isNfcapdPath(out)) await writeFlowFile(out, table, { schema: 'nfcapd' });
    else if (out !== output) await copyFileAtomic(output, out);
  }
  const flows = indexFlows(table).count;
  const t2 = performance.now();
  await writeJsonAtomic(selectionPath(wd), { selectionMetrics: selSet, selections, dp: opts.config.global.dp });
  return {
    output,
    ...(out ? { out } : {}),
    records: table.length,
    flows,
    selection: selections.map((s) => ({ chunk: s.chunk, best: s.best, candidates: s.candidates.length, rule: s.selectedBy.rule, metrics: s.selectedBy.metrics })),
    selectionMetrics: selSet,
    sanitizedRows,
    format,
    streamed: false,
    seconds: { select: (t1 - t0) / 1000, write: (t2 - t1) / 1000 },
  };
}
