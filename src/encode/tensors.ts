// Fit the field encoders, turn chunks of flows into DoppelGANger tensors (attributes, features, gen flags, layout) and back.
import { ConfigError, InputError, InternalError, expected } from '../errors.js';
import type { FieldSpec, NetShareConfig, Normalization } from '../config/schema.js';
import { allocFlowTable, allocPacketTable, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { flowTagDim, writeFlowTags, type ChunkFlows, type ChunkPlan } from './chunks.js';
import {
  BitsEncoder,
  CategoricalEncoder,
  ContinuousEncoder,
  EmbeddingEncoder,
  IpBitsEncoder,
  IpTopEncoder,
  type Activation,
  type FieldEncoder,
  type LayoutSlice,
} from './fields.js';
import { columnIsInteger, fieldColumn, hasFieldColumn, type RecordView } from './records.js';
import { Rng } from '../core/rng.js';
import { normalizeRows, trainCbow } from './word2vec.js';

/** Everything needed to encode and decode: fitted field encoders plus the global options. */
export interface EncoderSet {
  dataset: 'pcap' | 'netflow';
  /** Time chunks the flow tags refer to (0 when tags are off). */
  tagChunks: number;
  timestampNormalization: Normalization;
  /**
   * Flow start as a bin (a K-way one-hot over equal slices of the chunk) plus the position inside the bin, instead of
   * NetShare's one scaled value; 0 = NetShare's encoding. (preprocess.timestamp.flowStartBins)
   */
  flowStartBins?: number;
  /** Inter-arrival scaled as log1p(µs) (preprocess.timestamp.interarrivalLog); absent = linear (NetShare). */
  interarrivalLog?: boolean;
  metadata: FieldEncoder[];
  timeseries: FieldEncoder[];
  /** Embedding vocabularies (shared by the fields that use them). */
  ports?: EmbeddingEncoder;
  protos?: EmbeddingEncoder;
  word2vecInfo?: { sentences: number; sampled: boolean; seconds: number };
  /** Address tokens of the training trace (pseudo-address → name; src/io/address-tokens.ts), written back on output. */
  addressTokens?: ReadonlyMap<number, string>;
  /** Columns of optional fields in the config that were not modelled because the trace lacks them. */
  skippedFields?: string[];
  /**
   * Categorical fields without fixed choices that have a single value in the whole trace: nothing to learn (a one-way softmax), so they
   * are not modelled and every decoded record gets the value back.
   */
  constants?: Record<string, string | number>;
}

/** A field spec's column may be missing from the trace (then it is skipped with a notice): label/type unless said otherwise. */
export function isOptionalField(spec: FieldSpec): boolean {
  return spec.optional ?? (spec.column === 'label' || spec.column === 'type');
}

export interface Layout {
  attributes: LayoutSlice[];
  features: LayoutSlice[];
  /** Attribute vector width A and per-step feature width F (without the gen flag). */
  attributeDim: number;
  featureDim: number;
  /** The generator's 2-way softmax per step (see genFlagOutputs), appended after the F feature dims. */
  genFlag: { dim: 2; activation: 'softmax' };
}

/** Per-chunk facts needed to decode (normalisation ranges of the timestamp encoding). */
export interface ChunkMeta {
  index: number;
  startUs: number;
  endUs: number;
  flows: number;
  records: number;
  recordsIn: number;
  truncatedFlows: number;
  droppedFlows: number;
  droppedRecords: number;
  /** Min-max range of flow starts (µs) and of within-flow inter-arrivals (µs) in this chunk. */
  flowStartRange: [number, number];
  interarrivalRange: [number, number];
}

/**
 * A chunk as stored: only valid records' features, flow by flow (`lengths[f]` records each, in time order).
 * `densify` turns it into the padded [n, T, F] DoppelGANger tensors.
 */
export interface PackedChunkTensors {
  meta: ChunkMeta;
  n: number;
  T: number;
  A: number;
  F: number;
  /** [n, A] */
  attributes: Float32Array;
  /** [records, F] */
  packedFeatures: Float32Array;
  /** [n] records per flow (≤ T). */
  lengths: Uint32Array;
}

export interface ChunkTensors {
  meta: ChunkMeta;
  n: number;
  T: number;
  A: number;
  F: number;
  /** [n, A] */
  attributes: Float32Array;
  /** [n, T, F] */
  features: Float32Array;
  /** [n, T]: 1 for valid steps (DoppelGANger data_gen_flag). */
  genFlag: Float32Array;
}

/**
 * Whether a continuous field decodes to integers, when that is fixed before the data is seen: the config's `integer`,
 * else in DP mode the column's type (columnIsInteger; a column of unknown type needs `integer` in DP mode). Undefined:
 * learnt from the data (non-DP: integers when every value is one).
 */
function fixedIntegral(spec: FieldSpec, view: RecordView, dp: boolean, key: string): boolean | undefined {
  if (spec.encoding !== 'continuous') return undefined;
  if (spec.integer !== undefined) return spec.integer;
  if (!dp) return undefined;
  const known = columnIsInteger(view.kind, spec.column);
  if (known === undefined) {
    if (Array.isArray(fieldColumn(view, spec.column, key))) return undefined; // not numeric: refused where it is fitted
    const k = key.replace(/column$/, 'integer');
    throw new ConfigError(
      `${expected('true or false (global.dp is on, and whether decoding rounds must not be learnt from the private values)', k, undefined)}: the type of column ${spec.column} is not known`,
      k,
    );
  }
  return known;
}

function makeEncoder(spec: FieldSpec, set: EncoderSet, ipv6: boolean, integral?: boolean): FieldEncoder {
  switch (spec.encoding) {
    case 'ipBits':
      return new IpBitsEncoder(spec.column, ipv6 ? 128 : 32);
    case 'ipTop':
      return new IpTopEncoder(spec.column, ipv6 ? 128 : 32, spec.top, spec.minCount);
    case 'bits':
      return new BitsEncoder(spec.column, spec.nBits);
    case 'word2vecPort':
      return new EmbeddingEncoder(spec.column, 'word2vecPort', set.ports!.values, set.ports!.vectors, set.ports!.vecDim);
    case 'word2vecProto':
      return new EmbeddingEncoder(spec.column, 'word2vecProto', set.protos!.values, set.protos!.vectors, set.protos!.vecDim);
    case 'categorical':
      return new CategoricalEncoder(spec.column, spec.choices, false);
    case 'continuous':
      return new ContinuousEncoder(spec.column, spec.normalization, spec.log1p, spec.min, spec.max, integral, spec.pointMass, spec.topValues);
  }
}

/**
 * Train the port/protocol word2vec model: one sentence [srcport, dstport, proto] per record, ports and protocols in
 * separate vocabularies (distinct tokens), at most `maxSentences` records sampled uniformly with the seed.
 */
export function fitEmbeddings(view: RecordView, cfg: NetShareConfig): { ports: EmbeddingEncoder; protos: EmbeddingEncoder; info: EncoderSet['word2vecInfo'] } {
  const t0 = performance.now();
  const w = cfg.preprocess.word2vec;
  const portCount = new Float64Array(65536);
  const protoCount = new Float64Array(256);
  for (let i = 0; i < view.n; i++) {
    portCount[view.srcPort[i]!]!++;
    portCount[view.dstPort[i]!]!++;
    protoCount[view.proto[i]!]!++;
  }
  const byFreq = (counts: Float64Array): number[] => {
    const vals: number[] = [];
    for (let v = 0; v < counts.length; v++) if (counts[v]! > 0) vals.push(v);
    return vals.sort((a, b) => counts[b]! - counts[a]! || a - b);
  };
  const portVals = byFreq(portCount);
  const protoVals = byFreq(protoCount);
  const P = portVals.length;
  const tokPort = new Int32Array(65536).fill(-1);
  portVals.forEach((v, i) => (tokPort[v] = i));
  const tokProto = new Int32Array(256).fill(-1);
  protoVals.forEach((v, i) => (tokProto[v] = P + i));
  const counts = new Float64Array(P + protoVals.length);
  portVals.forEach((v, i) => (counts[i] = portCount[v]!));
  protoVals.forEach((v, i) => (counts[P + i] = protoCount[v]!));
  const rng = Rng.forPurpose(cfg.global.seed, 'word2vec/sentences');
  const max = w.maxSentences > 0 ? w.maxSentences : view.n;
  const m = Math.min(view.n, max);
  const sampled = m < view.n;
  const sentences = new Int32Array(3 * m);
  for (let s = 0; s < m; s++) {
    // uniform sample without replacement via a strided random start when sampling (keeps time spread), else all
    const i = sampled ? Math.min(view.n - 1, Math.floor(((s + rng.next()) * view.n) / m)) : s;
    sentences[3 * s] = tokPort[view.srcPort[i]!]!;
    sentences[3 * s + 1] = tokPort[view.dstPort[i]!]!;
    sentences[3 * s + 2] = tokProto[view.proto[i]!]!;
  }
  const vecs = trainCbow(sentences, 3, counts, {
    dim: w.dim,
    window: w.window,
    negative: w.negative,
    epochs: w.epochs,
    alpha: w.alpha,
    minAlpha: w.minAlpha,
    sample: w.sample,
    seed: cfg.global.seed,
  });
  normalizeRows(vecs, w.dim);
  const ports = new EmbeddingEncoder('port', 'word2vecPort', portVals, vecs.slice(0, P * w.dim), w.dim);
  const protos = new EmbeddingEncoder('proto', 'word2vecProto', protoVals, vecs.slice(P * w.dim), w.dim);
  return { ports, protos, info: { sentences: m, sampled, seconds: (performance.now() - t0) / 1000 } };
}

/** Fit every encoder on the whole trace (continuous ranges and categorical choices are global, as NetShare). */
export function fitEncoders(view: RecordView, cfg: NetShareConfig): EncoderSet {
  const p = cfg.preprocess;
  const set: EncoderSet = {
    dataset: cfg.global.dataset,
    tagChunks: p.flowTags === 'none' ? 0 : p.nChunks,
    timestampNormalization: p.timestamp.normalization,
    ...(p.timestamp.flowStartBins > 0 ? { flowStartBins: p.timestamp.flowStartBins } : {}),
    ...(p.timestamp.interarrivalLog ? { interarrivalLog: true } : {}),
    metadata: [],
    timeseries: [],
  };
  const all = [...p.metadata, ...p.timeseries];
  if (all.some((f) => f.encoding === 'word2vecPort' || f.encoding === 'word2vecProto')) {
    const { ports, protos, info } = fitEmbeddings(view, cfg);
    set.ports = ports;
    set.protos = protos;
    set.word2vecInfo = info;
  }
  if (view.kind === 'flows' && view.table.kind === 'flows' && view.table.addressTokens?.size) set.addressTokens = view.table.addressTokens;
  for (const [sect, list] of [['metadata', p.metadata], ['timeseries', p.timeseries]] as const) {
    list.forEach((spec, i) => {
      const key = `preprocess.${sect}.${i}.column`;
      if (isOptionalField(spec) && !hasFieldColumn(view, spec.column)) {
        (set.skippedFields ??= []).push(spec.column);
        return;
      }
      // a categorical field with one value in the whole trace has nothing to learn (a one-way softmax): a constant
      if (spec.encoding === 'categorical' && !spec.choices) {
        const col = fieldColumn(view, spec.column, key) as ArrayLike<string | number>;
        let one = col.length > 0;
        for (let r = 1; r < col.length && one; r++) one = col[r] === col[0];
        if (one) {
          (set.constants ??= {})[spec.column] = col[0]!;
          return;
        }
      }
      if ((spec.encoding === 'ipBits' || spec.encoding === 'ipTop') && spec.column !== 'srcip' && spec.column !== 'dstip') {
        throw new ConfigError(expected(`srcip or dstip for ${spec.encoding}`, key, spec.column), key);
      }
      if ((spec.encoding === 'word2vecPort' && spec.column !== 'srcport' && spec.column !== 'dstport') || (spec.encoding === 'word2vecProto' && spec.column !== 'proto')) {
        throw new ConfigError(expected(`a ${spec.encoding === 'word2vecPort' ? 'port' : 'proto'} column for ${spec.encoding}`, key, spec.column), key);
      }
      const enc = makeEncoder(spec, set, view.hasIpv6, fixedIntegral(spec, view, Boolean(cfg.global.dp), key));
      if (enc instanceof IpTopEncoder) {
        const v4 = enc.column === 'srcip' ? view.srcIp : view.dstIp;
        const v6 = enc.column === 'srcip' ? view.srcIp6 : view.dstIp6;
        const ver = view.hasIpv6 ? view.ipVersion! : null;
        const bits = enc.bits;
        enc.fit(
          (function* () {
            for (let r = 0; r < view.n; r++) {
              if (ver && ver[r] === 6) yield IpTopEncoder.key6(v6!, 16 * r);
              else if (bits === 128) yield IpTopEncoder.key4in6(v4[r]!);
              else yield IpTopEncoder.key4(v4[r]!);
            }
          })(),
        );
      } else if (enc instanceof ContinuousEncoder) {
        const col = fieldColumn(view, spec.column, key);
        if (Array.isArray(col)) throw new ConfigError(expected('a numeric column for a continuous encoding', key, spec.column), key);
        enc.fit(col as ArrayLike<number>);
      } else if (enc instanceof CategoricalEncoder) {
        const col = fieldColumn(view, spec.column, key);
        try {
          enc.fit(col as ArrayLike<string | number>);
        } catch (err) {
          if (err instanceof InputError) throw new ConfigError(`${err.message} (${key})`, key.replace(/column$/, 'choices'));
          throw err;
        }
      } else if (enc instanceof BitsEncoder) {
        const col = fieldColumn(view, spec.column, key);
        const lim = 2 ** enc.nBits;
        for (let r = 0; r < col.length; r++) {
          const v = col[r] as number;
          if (!(v >= 0 && v < lim && Number.isInteger(v))) throw new ConfigError(expected(`integers below 2^${enc.nBits} in ${spec.column}`, key.replace(/column$/, 'nBits'), v), key.replace(/column$/, 'nBits'));
        }
      }
      (sect === 'metadata' ? set.metadata : set.timeseries).push(enc);
    });
  }
  return set;
}

function act(norm: Normalization): Activation {
  return norm === 'zeroOne' ? 'sigmoid' : 'tanh';
}

/** Ordered output slices: metadata fields | flow tags | flow_start; features: interarrival | timeseries fields. */
export function buildLayout(set: EncoderSet): Layout {
  const attributes: LayoutSlice[] = [];
  let off = 0;
  const slice = (kind: 'attribute' | 'feature', enc: FieldEncoder, o: number): LayoutSlice => {
    const discrete = enc.activation === 'softmax';
    const groupSize = enc instanceof CategoricalEncoder ? enc.dim : discrete ? 2 : undefined;
    return {
      name: enc.column,
      kind,
      offset: o,
      dim: enc.dim,
      activation: enc.activation,
      ...(groupSize !== undefined ? { groupSize } : {}),
      discrete,
      encoding: enc.encoding,
    };
  };
  const slices = (kind: 'attribute' | 'feature', e: FieldEncoder, o: number): LayoutSlice[] =>
    e instanceof ContinuousEncoder && e.valueClasses > 0
      ? [
          // two heads: at the minimum or above it (pointMass) / which frequent value or "other" (topValues), then the value
          {
            name: `${e.column}.${e.pointMass ? 'atMin' : 'top'}`,
            kind,
            offset: o,
            dim: e.valueClasses,
            activation: 'softmax',
            groupSize: e.valueClasses,
            discrete: true,
            encoding: e.pointMass ? 'pointMass' : 'topValues',
          },
          { name: e.column, kind, offset: o + e.valueClasses, dim: 1, activation: e.activation, discrete: false, encoding: 'continuous' },
        ]
      : [slice(kind, e, o)];
  for (const e of set.metadata) {
    if (e instanceof IpTopEncoder) {
      // two heads: the popular-address softmax, then the bits
      const c = e.classes;
      attributes.push({ name: e.column, kind: 'attribute', offset: off, dim: c, activation: 'softmax', groupSize: c, discrete: true, encoding: 'ipTop' });
      attributes.push({ name: `${e.column}.bits`, kind: 'attribute', offset: off + c, dim: 2 * e.bits, activation: 'softmax', groupSize: 2, discrete: true, encoding: 'ipBits' });
    } else attributes.push(...slices('attribute', e, off));
    off += e.dim;
  }
  if (set.tagChunks > 0) {
    const d = flowTagDim(set.tagChunks);
    attributes.push({ name: 'flow_tags', kind: 'attribute', offset: off, dim: d, activation: 'softmax', groupSize: 2, discrete: true, encoding: 'multichunk_dep_v2' });
    off += d;
  }
  const bins = set.flowStartBins ?? 0;
  if (bins > 0) {
    attributes.push({ name: 'flow_start_bin', kind: 'attribute', offset: off, dim: bins, activation: 'softmax', groupSize: bins, discrete: true, encoding: 'flowStartBin' });
    off += bins;
  }
  attributes.push({ name: 'flow_start', kind: 'attribute', offset: off, dim: 1, activation: act(set.timestampNormalization), discrete: false, encoding: 'flowStart' });
  off += 1;
  const features: LayoutSlice[] = [
    { name: 'interarrival', kind: 'feature', offset: 0, dim: 1, activation: act(set.timestampNormalization), discrete: false, encoding: 'interarrival' },
  ];
  let foff = 1;
  for (const e of set.timeseries) {
    features.push(...slices('feature', e, foff));
    foff += e.dim;
  }
  return { attributes, features, attributeDim: off, featureDim: foff, genFlag: { dim: 2, activation: 'softmax' } };
}

function norm01(x: number, lo: number, hi: number, norm: Normalization): number {
  let u = hi > lo ? (x - lo) / (hi - lo) : 0;
  if (u < 0) u = 0;
  else if (u > 1) u = 1;
  return norm === 'zeroOne' ? u : 2 * u - 1;
}
/**
 * The flow start attribute at `off`: NetShare's one scaled value (bins 0), or a one-hot over `bins` equal slices of
 * [lo, hi] followed by the scaled position inside the slice. (A single sigmoid collapsed to the middle of the chunk:
 * 10–90% of generated starts within 0.46–0.51 of the chunk where the real ones spread over 0.10–0.89.)
 */
export function writeFlowStart(t: number, lo: number, hi: number, norm: Normalization, bins: number, out: Float32Array, off: number): void {
  if (bins === 0) {
    out[off] = norm01(t, lo, hi, norm);
    return;
  }
  const u = norm01(t, lo, hi, 'zeroOne') * bins;
  const b = Math.min(bins - 1, Math.floor(u));
  out[off + b] = 1;
  const pos = Math.min(1, u - b);
  out[off + bins] = norm === 'zeroOne' ? pos : 2 * pos - 1;
}

/** Inverse of writeFlowStart (the bin is the arg-max of the one-hot unless `pickBin` chooses it). */
export function readFlowStart(
  src: Float32Array,
  off: number,
  lo: number,
  hi: number,
  norm: Normalization,
  bins: number,
  /** Chooses the bin from the slice's values instead of their arg-max. */
  pickBin?: (src: Float32Array, off: number, bins: number) => number,
): number {
  if (bins === 0) return denorm01(src[off]!, lo, hi, norm);
  let b = 0;
  if (pickBin) b = pickBin(src, off, bins);
  else for (let i = 1; i < bins; i++) if (src[off + i]! > src[off + b]!) b = i;
  const pos = denorm01(src[off + bins]!, 0, 1, norm);
  return lo + ((b + pos) / bins) * (hi - lo);
}

/** An inter-arrival (µs, ≥ 0) into the chunk's range [lo, hi], linearly or as log1p. */
function normIa(ia: number, lo: number, hi: number, norm: Normalization, log: boolean): number {
  return log ? norm01(Math.log1p(ia), Math.log1p(lo), Math.log1p(hi), norm) : norm01(ia, lo, hi, norm);
}
function denormIa(v: number, lo: number, hi: number, norm: Normalization, log: boolean): number {
  return log ? Math.expm1(denorm01(v, Math.log1p(lo), Math.log1p(hi), norm)) : denorm01(v, lo, hi, norm);
}

function denorm01(v: number, lo: number, hi: number, norm: Normalization): number {
  let u = norm === 'zeroOne' ? v : (v + 1) / 2;
  if (!(u >= 0)) u = 0;
  else if (u > 1) u = 1;
  return lo + u * (hi - lo);
}

/** T for all chunks: the longest flow rounded up to a multiple of sampleLen. */
export function paddedLength(maxLen: number, sampleLen: number): number {
  return Math.max(sampleLen, Math.ceil(maxLen / sampleLen) * sampleLen);
}

/** Encode one chunk into tensors. `dpRanges` fixes the time normalisation (DP mode). */
export function encodeChunk(
  view: RecordView,
  plan: ChunkPlan,
  chunk: ChunkFlows,
  set: EncoderSet,
  T: number,
  dp?: { interarrivalUs: [number, number] },
): PackedChunkTensors {
  const layout = buildLayout(set);
  const A = layout.attributeDim;
  const F = layout.featureDim;
  const n = chunk.flowKeyIds.length;
  const time = view.time;
  const { recStart, recIdx } = chunk;
  // time ranges of this chunk
  let fsMin = Infinity, fsMax = -Infinity, iaMin = Infinity, iaMax = -Infinity;
  for (let f = 0; f < n; f++) {
    const a = recStart[f]!, b = recStart[f + 1]!;
    const t0 = time[recIdx[a]!]!;
    if (t0 < fsMin) fsMin = t0;
    if (t0 > fsMax) fsMax = t0;
    for (let r = a; r < b; r++) {
      const ia = r === a ? 0 : time[recIdx[r]!]! - time[recIdx[r - 1]!]!;
      if (ia < iaMin) iaMin = ia;
      if (ia > iaMax) iaMax = ia;
    }
  }
  if (dp) {
    fsMin = chunk.startUs;
    fsMax = chunk.endUs;
    [iaMin, iaMax] = dp.interarrivalUs;
  }
  const meta: ChunkMeta = {
    index: chunk.index,
    startUs: chunk.startUs,
    endUs: chunk.endUs,
    flows: n,
    records: recIdx.length,
    recordsIn: chunk.recordsIn,
    truncatedFlows: chunk.truncatedFlows,
    droppedFlows: chunk.droppedFlows,
    droppedRecords: chunk.droppedRecords,
    flowStartRange: [fsMin, fsMax],
    interarrivalRange: [iaMin, iaMax],
  };
  const attributes = new Float32Array(n * A);
  const features = new Float32Array(recIdx.length * F);
  const lengths = new Uint32Array(n);
  const tsNorm = set.timestampNormalization;
  const iaLog = set.interarrivalLog === true;
  // one specialised writer per metadata field keeps each encode call site monomorphic
  const metaDims = set.metadata.map((e) => e.dim);
  const metaWriters = set.metadata.map((e): ((row: number, off: number) => void) => {
    if (e instanceof IpBitsEncoder) {
      const v4 = e.column === 'srcip' ? view.srcIp : view.dstIp;
      const v6 = e.column === 'srcip' ? view.srcIp6 : view.dstIp6;
      const ver = view.hasIpv6 ? view.ipVersion! : null;
      return (row, off) => {
        if (ver && ver[row] === 6) e.encode6(v6!, 16 * row, attributes, off);
        else e.encode4(v4[row]!, attributes, off);
      };
    }
    const col = fieldColumn(view, e.column);
    if (e instanceof CategoricalEncoder) return (row, off) => e.encode((col as ArrayLike<string | number>)[row]!, attributes, off);
    const num = col as ArrayLike<number>;
    return (row, off) => e.encode(num[row]!, attributes, off);
  });
  const tsCols = set.timeseries.map((e) => fieldColumn(view, e.column));
  const fsBins = set.flowStartBins ?? 0;
  for (let f = 0; f < n; f++) {
    const a = recStart[f]!, b = recStart[f + 1]!;
    if (b - a > T) throw new InternalError(`flow of ${b - a} records exceeds T ${T}`);
    lengths[f] = b - a;
    const first = recIdx[a]!;
    let off = f * A;
    for (let k = 0; k < metaWriters.length; k++) {
      metaWriters[k]!(first, off);
      off += metaDims[k]!;
    }
    if (set.tagChunks > 0) {
      writeFlowTags(plan, chunk.flowKeyIds[f]!, chunk.index, attributes, off);
      off += flowTagDim(set.tagChunks);
    }
    writeFlowStart(time[first]!, fsMin, fsMax, tsNorm, fsBins, attributes, off);
    for (let r = a; r < b; r++) {
      const i = recIdx[r]!;
      let o = r * F;
      const ia = r === a ? 0 : time[i]! - time[recIdx[r - 1]!]!;
      features[o++] = normIa(ia, iaMin, iaMax, tsNorm, iaLog);
      for (let k = 0; k < set.timeseries.length; k++) {
        const e = set.timeseries[k]!;
        if (e instanceof CategoricalEncoder) e.encode((tsCols[k] as ArrayLike<string | number>)[i]!, features, o);
        else if (e instanceof IpBitsEncoder) throw new InternalError('ipBits is an attribute encoding');
        else e.encode((tsCols[k] as ArrayLike<number>)[i]!, features, o);
        o += e.dim;
      }
    }
  }
  return { meta, n, T, A, F, attributes, packedFeatures: features, lengths };
}

/** Dense DoppelGANger tensors from the packed form: features [n, T, F] zero-padded, genFlag [n, T]. */
export function densify(p: PackedChunkTensors): ChunkTensors {
  const { n, T, F } = p;
  const features = new Float32Array(n * T * F);
  const genFlag = new Float32Array(n * T);
  let r = 0;
  for (let f = 0; f < n; f++) {
    const len = p.lengths[f]!;
    features.set(p.packedFeatures.subarray(r * F, (r + len) * F), f * T * F);
    genFlag.fill(1, f * T, f * T + len);
    r += len;
  }
  return { meta: p.meta, n, T, A: p.A, F, attributes: p.attributes, features, genFlag };
}

/**
 * The generator's per-step gen-flag targets (spec §2.5 add_gen_flag): [next step valid, (1 − next valid) · (the
 * sampleLen group holds a valid step)] → [1,0] continue, [0,1] last step (and padding inside the last group), [0,0]
 * for fully padded groups. Returns [n, T, 2].
 */
export function genFlagOutputs(genFlag: Float32Array, n: number, T: number, sampleLen: number): Float32Array {
  if (T % sampleLen !== 0) throw new InternalError(`T ${T} is not a multiple of sampleLen ${sampleLen}`);
  const out = new Float32Array(n * T * 2);
  for (let f = 0; f < n; f++) {
    for (let g = 0; g < T; g += sampleLen) {
      let any = 0;
      for (let t = g; t < g + sampleLen; t++) if (genFlag[f * T + t]! > 0.5) any = 1;
      for (let t = g; t < g + sampleLen; t++) {
        const next = t + 1 < T ? (genFlag[f * T + t + 1]! > 0.5 ? 1 : 0) : 0;
        out[(f * T + t) * 2] = next;
        out[(f * T + t) * 2 + 1] = (1 - next) * any;
      }
    }
  }
  return out;
}

/** Features with the gen-flag outputs appended per step: [n, T, F + 2]. */
export function withGenFlag(features: Float32Array, genFlag: Float32Array, n: number, T: number, F: number, sampleLen: number): Float32Array {
  const g = genFlagOutputs(genFlag, n, T, sampleLen);
  const out = new Float32Array(n * T * (F + 2));
  for (let s = 0; s < n * T; s++) {
    out.set(features.subarray(s * F, s * F + F), s * (F + 2));
    out[s * (F + 2) + F] = g[2 * s]!;
    out[s * (F + 2) + F + 1] = g[2 * s + 1]!;
  }
  return out;
}

export interface DecodedChunk {
  table: Table;
  /** Row → flow (0..n−1) of the tensors it came from. */
  flowOf: Int32Array;
  /** Per flow: decoded flow tags (startFromThisChunk, chunk presence bits) when tags are on. */
  startFromThisChunk?: Uint8Array;
  chunkPresence?: Uint8Array;
}

/**
 * Decode tensors back to records: metadata → 5-tuple (+ attributes), flow_start + cumulated inter-arrivals → times,
 * fields by their inverse encoders. Step t of flow f is emitted when valid[f·T + t] > 0.5 (the data's gen flags or
 * the generator's stop mask). Records come out in flow order, each flow's records in time order.
 */
export type DecodeInput =
  | { attributes: Float32Array; features: Float32Array; valid: Float32Array | Uint8Array; n: number; T: number }
  | { attributes: Float32Array; packedFeatures: Float32Array; lengths: Uint32Array; n: number };

export function decodeChunk(
  t: DecodeInput,
  set: EncoderSet,
  meta: Pick<ChunkMeta, 'flowStartRange' | 'interarrivalRange'>,
  /**
   * Vocabulary rows of embedding-encoded metadata fields (by index in `set.metadata`), one per flow, found in batches
   * beforehand (src/pipeline/embedding-decode.ts); fields not given are decoded flow by flow.
   */
  pre: {
    embeddingRows?: ReadonlyMap<number, Int32Array>;
    /** With flow-start bins: flow f's bin chosen from the bin slice's values (at `off`) instead of their arg-max. */
    pickBin?: (f: number, src: Float32Array, off: number, bins: number) => number;
    /**
     * Only the 5-tuples (the metadata fields, the IP version, the flow tags): times and record fields are left 0. The
     * generate stage's 5-tuple dedupe reads nothing else of the records it decodes (~1–2 µs a row less).
     */
    tuplesOnly?: boolean;
  } = {},
): DecodedChunk {
  const layout = buildLayout(set);
  const A = layout.attributeDim;
  const F = layout.featureDim;
  const { n } = t;
  if (t.attributes.length !== n * A) throw new InternalError(`attributes hold ${t.attributes.length} values, expected ${n}×${A}`);
  // the emitted steps as (feature offset, step index) per row, flow by flow
  let rows = 0;
  let features: Float32Array;
  let stepOff: Int32Array;
  let stepIdx: Int32Array;
  const flowRow = new Int32Array(n + 1);
  if ('packedFeatures' in t) {
    features = t.packedFeatures;
    for (let f = 0; f < n; f++) rows += t.lengths[f]!;
    if (features.length !== rows * F) throw new InternalError(`packed features hold ${features.length} values, expected ${rows}×${F}`);
    stepOff = new Int32Array(rows);
    stepIdx = new Int32Array(rows);
    let r = 0;
    for (let f = 0; f < n; f++) {
      flowRow[f] = r;
      for (let s = 0; s < t.lengths[f]!; s++, r++) {
        stepOff[r] = r * F;
        stepIdx[r] = s;
      }
    }
    flowRow[n] = r;
  } else {
    const T = t.T;
    features = t.features;
    if (features.length !== n * T * F) throw new InternalError(`features hold ${features.length} values, expected ${n}×${T}×${F}`);
    for (let s = 0; s < n * T; s++) if (t.valid[s]! > 0.5) rows++;
    stepOff = new Int32Array(rows);
    stepIdx = new Int32Array(rows);
    let r = 0;
    for (let f = 0; f < n; f++) {
      flowRow[f] = r;
      for (let s = 0; s < T; s++) {
        if (!(t.valid[f * T + s]! > 0.5)) continue;
        stepOff[r] = (f * T + s) * F;
        stepIdx[r++] = s;
      }
    }
    flowRow[n] = r;
  }
  const ipv6 = set.metadata.some((e) => e instanceof IpBitsEncoder && e.bits === 128);
  const packets = set.dataset === 'pcap';
  const table: Table = packets ? allocPacketTable(rows, ipv6) : allocFlowTable(rows);
  if (!packets && ipv6) {
    (table as FlowTable).srcIp6 = new Uint8Array(16 * rows);
    (table as FlowTable).dstIp6 = new Uint8Array(16 * rows);
  }
  if (ipv6 || packets) (table as { ipVersion?: Uint8Array }).ipVersion ??= new Uint8Array(rows);
  const flowOf = new Int32Array(rows);
  const tagN = set.tagChunks;
  const startFrom = tagN > 0 ? new Uint8Array(n) : undefined;
  const presence = tagN > 0 ? new Uint8Array(n * tagN) : undefined;
  const strCols = new Map<string, string[]>();
  const setField = (col: string, row: number, v: string | number): void => {
    if (packets) {
      const p = table as PacketTable;
      switch (col) {
        case 'pkt_len': p.pktLen[row] = v as number; return;
        case 'tos': p.tos[row] = v as number; return;
        case 'id': p.ipId[row] = v as number; return;
        case 'flag': p.flags[row] = v as number; return;
        case 'off': p.fragOffset[row] = v as number; return;
        case 'ttl': p.ttl[row] = v as number; return;
        case 'ihl': p.ihl[row] = v as number; return;
        case 'tcp_flags': p.tcpFlags[row] = v as number; return;
        case 'tcp_window': p.tcpWindow[row] = v as number; return;
      }
    } else {
      const fl = table as FlowTable;
      switch (col) {
        case 'td': fl.td[row] = v as number; return;
        case 'pkt': fl.pkt[row] = v as number; return;
        case 'byt': fl.byt[row] = v as number; return;
        case 'tos': (fl.tos ??= new Uint8Array(rows))[row] = v as number; return;
        case 'flags':
        case 'tcp_flags': (fl.tcpFlags ??= new Uint8Array(rows))[row] = v as number; return;
        case 'rpkt': (fl.rpkt ??= new Float64Array(rows))[row] = v as number; return;
        case 'rbyt': (fl.rbyt ??= new Float64Array(rows))[row] = v as number; return;
        case 'sbyt': (fl.sbyt ??= new Float64Array(rows))[row] = v as number; return;
        case 'dtos': (fl.dtos ??= new Uint8Array(rows))[row] = v as number; return;
      }
    }
    if (col === 'label' || col === 'type' || (!packets && (col === 'state' || col === 'service' || col === 'dir'))) {
      let arr = strCols.get(col);
      if (!arr) {
        arr = new Array<string>(rows).fill('');
        strCols.set(col, arr);
      }
      arr[row] = String(v);
      return;
    }
    throw new InternalError(`no table column for field ${col}`);
  };
  /** A metadata value (the 5-tuple's ports and protocol, or any other field) into the table. */
  const setAttribute = (col: string, row: number, v: string | number): void => {
    switch (col) {
      case 'srcport': table.srcPort[row] = v as number; return;
      case 'dstport': table.dstPort[row] = v as number; return;
      case 'proto': table.proto[row] = v as number; return;
      // IPv4 addresses under an encoding other than ipBits (e.g. categorical with fixed choices): the uint32 value
      case 'srcip': table.srcIp[row] = Number(v) >>> 0; return;
      case 'dstip': table.dstIp[row] = Number(v) >>> 0; return;
      default: setField(col, row, v);
    }
  };
  const tsNorm = set.timestampNormalization;
  const iaLog = set.interarrivalLog === true;
  const [fs0, fs1] = meta.flowStartRange;
  const fsBins = set.flowStartBins ?? 0;
  const [ia0, ia1] = meta.interarrivalRange;
  const metaVals: (string | number)[] = new Array(set.metadata.length);
  let row = 0;
  let src4 = 0, dst4 = 0;
  let src6: Uint8Array | undefined, dst6: Uint8Array | undefined;
  let ver = 4;
  for (let f = 0; f < n; f++) {
    let off = f * A;
    ver = 4;
    src6 = dst6 = undefined;
    set.metadata.forEach((e, k) => {
      if (e instanceof IpBitsEncoder) {
        const d = e.decode(t.attributes, off);
        if (d.version === 6) ver = 6;
        if (e.column === 'srcip') {
          src4 = d.v4;
          src6 = d.v6;
        } else {
          dst4 = d.v4;
          dst6 = d.v6;
        }
      } else {
        const known = pre.embeddingRows?.get(k);
        metaVals[k] = known ? (e as EmbeddingEncoder).values[known[f]!]! : e.decode(t.attributes, off);
      }
      off += e.dim;
    });
    if (tagN > 0) {
      startFrom![f] = t.attributes[off + 1]! > t.attributes[off]! ? 1 : 0;
      for (let i = 0; i < tagN; i++) presence![f * tagN + i] = t.attributes[off + 3 + 2 * i]! > t.attributes[off + 2 + 2 * i]! ? 1 : 0;
      off += flowTagDim(tagN);
    }
    const { pickBin } = pre;
    const start = pre.tuplesOnly ? 0 : readFlowStart(t.attributes, off, fs0, fs1, tsNorm, fsBins, pickBin ? (src, o, k) => pickBin(f, src, o, k) : undefined);
    let clock = start;
    for (let q = flowRow[f]!; q < flowRow[f + 1]!; q++) {
      let o = stepOff[q]!;
      if (stepIdx[q]! > 0 && !pre.tuplesOnly) clock += denormIa(features[o]!, ia0, ia1, tsNorm, iaLog);
      o++;
      table.srcIp[row] = src4;
      table.dstIp[row] = dst4;
      if (ver === 6 || src6 || dst6) {
        const tb = table as { srcIp6?: Uint8Array; dstIp6?: Uint8Array };
        const v4to6 = (x: number): Uint8Array => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
        tb.srcIp6?.set(src6 ?? v4to6(src4), 16 * row);
        tb.dstIp6?.set(dst6 ?? v4to6(dst4), 16 * row);
      }
      const iv = (table as { ipVersion?: Uint8Array }).ipVersion;
      if (iv) iv[row] = src6 || dst6 ? 6 : 4;
      set.metadata.forEach((e, k) => {
        if (e instanceof IpBitsEncoder) return;
        setAttribute(e.column, row, metaVals[k]!);
      });
      if (packets) (table as PacketTable).time[row] = clock;
      else (table as FlowTable).ts[row] = clock;
      if (!pre.tuplesOnly) {
        for (const e of set.timeseries) {
          setField(e.column, row, (e as Exclude<FieldEncoder, IpBitsEncoder>).decode(features, o));
          o += e.dim;
        }
      }
      if (packets) {
        const p = table as PacketTable;
        if (!set.timeseries.some((e) => e.column === 'ihl')) p.ihl[row] = src6 || dst6 ? 40 : 20;
      }
      flowOf[row] = f;
      row++;
    }
  }
  for (const [col, v] of Object.entries(set.constants ?? {})) for (let r = 0; r < rows; r++) setAttribute(col, r, v);
  for (const [col, arr] of strCols) (table as unknown as Record<string, unknown>)[col] = arr;
  return {
    table,
    flowOf,
    ...(startFrom ? { startFromThisChunk: startFrom } : {}),
    ...(presence ? { chunkPresence: presence } : {}),
  };
}
