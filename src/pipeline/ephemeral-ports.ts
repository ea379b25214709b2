// Ephemeral (client) ports of generated flows. The word2vec nearest-neighbour decoding (spec §2.4) maps the many
// one-off client ports of a trace onto a few hub ports: on the enterprise pcap 3,687 generated flows of chunk 0 decoded
// to 170 distinct source ports where the real chunk has ~1,800, and most generated 5-tuples repeated. An OS draws a
// client port from its ephemeral range for every connection; postprocess.ephemeralPorts chooses what we do:
// - "model" (NetShare): keep the decoded port;
// - "resample": write the embedding of a uniform draw from the chunk's real ephemeral ports into the row (generate.ts
//   resampleEphemeralPorts) — fills the flow count but recreates real 5-tuples (23.8% copied on the enterprise pcap);
// - "range" (this file): a decoded port that is ephemeral becomes a draw from the trace's ephemeral port *range*
//   (a histogram of its real ephemeral ports over 1,024-port bins, uniform inside a bin; computed once per generate
//   stage into generate/port-range.json, which every job reads), so client ports are spread
//   as the real ones are without reproducing them. The draw is a hash of the generated row without its flow tags (its
//   continuous flow start makes it one of a kind even where the ports decode alike), not a stream: every decode of the
//   same row (the 5-tuple dedupe of the fill passes, the final decode after the features are generated conditioned
//   on it, its copies carried into later chunks by the flow tags) gives the same port, with no state between jobs.
import type { EmbeddingEncoder } from '../encode/fields.js';
import type { DecodedChunk, Layout } from '../encode/tensors.js';
import type { Table } from '../io/table.js';
import { chunkAttributeBlocks } from './chunk-tensors.js';
import { nearestRows } from './embedding-decode.js';
import { rowUniformsMany } from '../native/draws.js';

/** A port at or above this, used by at most EPHEMERAL_MAX_FLOWS training flows of the chunk, is an ephemeral port. */
export const EPHEMERAL_MIN_PORT = 1024;
export const EPHEMERAL_MAX_FLOWS = 2;
/** Width of the bins of the ephemeral-range histogram ("range"): 64 bins over the port space. */
export const RANGE_BIN = 1024;

/** The ports of one chunk's training flows, as the ephemeral-port policies need them. */
export interface ChunkPorts {
  /** Training flows of the chunk using each port (source and destination alike). */
  flowsOf: Map<number, number>;
  /** ≥ EPHEMERAL_MIN_PORT and used by at most EPHEMERAL_MAX_FLOWS training flows (or by none). */
  ephemeral(v: number): boolean;
}

/** The port-embedding slices of the attribute vector and the table column each decodes to. */
export function portSlices(layout: Layout): { offset: number; dim: number; column: 'srcPort' | 'dstPort' }[] {
  const out: { offset: number; dim: number; column: 'srcPort' | 'dstPort' }[] = [];
  for (const sl of layout.attributes) {
    if (sl.encoding !== 'word2vecPort') continue;
    out.push({ offset: sl.offset, dim: sl.dim, column: sl.name === 'dstport' ? 'dstPort' : 'srcPort' });
  }
  return out;
}

const cache = new Map<string, Promise<ChunkPorts>>();

/**
 * The policy object of a port count, built outside chunkPorts' loader: a closure made there would share its scope,
 * and so keep the chunk's attribute rows alive in the cache (~750 MB per million rows at the netflow layout).
 */
function chunkPortsOf(flowsOf: Map<number, number>): ChunkPorts {
  return { flowsOf, ephemeral: (v: number) => v >= EPHEMERAL_MIN_PORT && (flowsOf.get(v) ?? 0) <= EPHEMERAL_MAX_FLOWS };
}

/**
 * Port usage of chunk `chunk`'s training flows, from its attribute rows (training rows are vocabulary vectors bit for
 * bit, so the lookup is exact). Cached per workdir and chunk for the life of the process.
 */
export function chunkPorts(wd: string, chunk: number, layout: Layout, ports: EmbeddingEncoder): Promise<ChunkPorts> {
  const key = `${wd}\u0000${chunk}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const A = layout.attributeDim;
      const slices = portSlices(layout);
      // each training row is one flow; a block of rows in memory at a time
      const flowsOf = new Map<number, number>();
      for await (const rows of chunkAttributeBlocks(wd, chunk)) {
        const n = rows.length / A;
        const decoded = await Promise.all(slices.map((sl) => nearestRows(ports, rows, A, sl.offset, n)));
        for (let r = 0; r < n; r++) {
          for (const d of decoded) {
            const v = ports.values[d[r]!]!;
            flowsOf.set(v, (flowsOf.get(v) ?? 0) + 1);
          }
        }
      }
      return chunkPortsOf(flowsOf);
    })();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * The "range" policy of a workdir as the generate stage writes it once (generate/port-range.json) for every job: the
 * ports ≥ EPHEMERAL_MIN_PORT that are *not* ephemeral (some chunk has more than EPHEMERAL_MAX_FLOWS training flows
 * on them), and the histogram of the ephemeral ones over RANGE_BIN-port bins.
 */
export interface PortRangeFile {
  servicePorts: number[];
  bins: number[];
}

/** The "range" policy: which decoded ports are ephemeral, and the histogram drawn from. */
export interface PortRange {
  ephemeral(v: number): boolean;
  /** Port for two uniforms in [0, 1): a bin by the histogram, then a port uniformly inside it (≥ EPHEMERAL_MIN_PORT). */
  draw(u: number, w: number): number;
  /** Real ephemeral ports the histogram was built from. */
  count: number;
}

/**
 * The policy file of a workdir (undefined when no training port is ephemeral), the same for every chunk so that a flow
 * carried into later chunks (flow tags) keeps its ports: a port is ephemeral when it is ≥ EPHEMERAL_MIN_PORT and no
 * chunk has more than EPHEMERAL_MAX_FLOWS training flows on it; the histogram holds the ephemeral ports of all chunks.
 */
export async function portRangeFile(wd: string, chunks: readonly number[], layout: Layout, ports: EmbeddingEncoder): Promise<PortRangeFile | undefined> {
  const most = new Map<number, number>();
  for (const c of chunks) {
    for (const [v, k] of (await chunkPorts(wd, c, layout, ports)).flowsOf) most.set(v, Math.max(most.get(v) ?? 0, k));
  }
  return portRangeOfCounts(most);
}

/** The policy file for `most`: port → the most training flows any chunk has on it. */
export function portRangeOfCounts(most: ReadonlyMap<number, number>): PortRangeFile | undefined {
  const servicePorts: number[] = [];
  const bins = new Array<number>(65536 / RANGE_BIN).fill(0);
  for (const [v, k] of most) {
    if (v < EPHEMERAL_MIN_PORT) continue;
    if (k > EPHEMERAL_MAX_FLOWS) servicePorts.push(v);
    else bins[Math.floor(v / RANGE_BIN)]! += 1;
  }
  if (bins.every((b) => b === 0)) return undefined;
  return { servicePorts: servicePorts.sort((a, b) => a - b), bins };
}

/** The policy a file describes. */
export function portRange(f: PortRangeFile): PortRange {
  const service = new Set(f.servicePorts);
  const count = f.bins.reduce((a, b) => a + b, 0);
  const cum = new Float64Array(f.bins.length);
  let acc = 0;
  for (let b = 0; b < f.bins.length; b++) cum[b] = acc += f.bins[b]! / count;
  return {
    ephemeral: (v) => v >= EPHEMERAL_MIN_PORT && !service.has(v),
    count,
    draw(u, w) {
      let b = 0;
      while (b < cum.length - 1 && u >= cum[b]!) b++;
      const lo = Math.max(EPHEMERAL_MIN_PORT, b * RANGE_BIN);
      const hi = (b + 1) * RANGE_BIN; // exclusive
      return lo + Math.min(hi - lo - 1, Math.floor(w * (hi - lo)));
    },
  };
}

/** 32-bit murmur3 finaliser. */
export function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Two uniforms in [0, 1) from the float bits of `rows[off .. off + dim)` — leaving out the `skip` range of the row
 * (offsets relative to `off`) — and a salt: the same values, the same pair. Only the non-zero values are mixed in,
 * each with its position: a generated attribute row is mostly one-hot zeros (the netflow preset: ~100 of its 696
 * values are not 0), and the mixing is a chain of dependent multiplies (GENERATE_VERSION 9; until then every value
 * was mixed, ~2 µs a call, three calls a flow).
 */
export function rowUniforms(rows: Float32Array, off: number, dim: number, salt: number, skip?: { offset: number; dim: number }): [number, number] {
  const bits = new Uint32Array(rows.buffer, rows.byteOffset + off * 4, dim);
  let h1 = mix(0x9e3779b9 ^ salt);
  let h2 = mix(0x7f4a7c15 + salt);
  const s0 = skip ? skip.offset : dim;
  const s1 = skip ? skip.offset + skip.dim : dim;
  for (let i = 0; i < dim; i++) {
    const b = bits[i]!;
    if (b === 0 || (i >= s0 && i < s1)) continue;
    h1 = mix(h1 ^ b ^ Math.imul(i + 1, 0x9e3779b1));
    h2 = mix((h2 + b + i) >>> 0);
  }
  return [h1 / 2 ** 32, h2 / 2 ** 32];
}

/** The rowUniforms of a row by salt (rowKeys). */
export type RowKeys = (f: number, salt: number) => [number, number];

/**
 * rowUniforms of every row of `rows` [n, A] (each whole row, `skip` left out) for each of `salts`, computed for all
 * rows and salts at the first call (one native pass over each row: the salts' mixing chains run side by side), then
 * looked up: the flow key, the flow-start bin and the ephemeral ports of one decode share it.
 */
export function rowKeys(rows: Float32Array, A: number, skip: { offset: number; dim: number } | undefined, salts: readonly number[]): RowKeys {
  const k = salts.length;
  const index = new Map(salts.map((s, j) => [s >>> 0, j]));
  let all: Float64Array | undefined;
  return (f, salt) => {
    const j = index.get(salt >>> 0);
    if (j === undefined) throw new RangeError(`rowKeys: salt ${salt} was not asked for (${salts.join(', ')})`);
    all ??= rowUniformsMany(rows, A, Uint32Array.from(salts, (s) => s >>> 0), skip ? skip.offset : A, skip ? skip.offset + skip.dim : A);
    return [all[2 * (k * f + j)]!, all[2 * (k * f + j) + 1]!];
  };
}

/** The salts of the ephemeral-port draws of `layout` (one per port slice: its index), for rowKeys. */
export function portSalts(layout: Layout): number[] {
  return portSlices(layout).map((_, s) => s);
}

/**
 * "range": every decoded port of `dec` (records of the `n` attribute rows `rows` [n, A]) that is ephemeral becomes a
 * draw from the trace's ephemeral range, keyed by the row without its flow tags (a row carried into a later chunk
 * differs only there) and salted apart for source and destination (`keys`: the rows' keys with portSalts computed
 * beforehand). In place; returns how many flows' ports were drawn.
 */
export function applyPortRange(range: PortRange, dec: DecodedChunk, rows: Float32Array, layout: Layout, keys?: RowKeys): number {
  const slices = portSlices(layout);
  if (slices.length === 0 || dec.table.length === 0) return 0;
  const A = layout.attributeDim;
  const tags = layout.attributes.find((a) => a.name === 'flow_tags');
  const t: Table = dec.table;
  // one draw per flow row and slice, applied to every record of that flow
  const n = rows.length / A;
  const drawn = slices.map(() => new Int32Array(n).fill(-1));
  let flows = 0;
  for (let i = 0; i < t.length; i++) {
    const f = dec.flowOf[i]!;
    for (const [s, sl] of slices.entries()) {
      const col = t[sl.column];
      let v = drawn[s]![f]!;
      if (v < 0) {
        if (!range.ephemeral(col[i]!)) {
          drawn[s]![f] = 0x10000; // kept: not ephemeral
          continue;
        }
        const [u, w] = keys ? keys(f, s) : rowUniforms(rows, f * A, A, s, tags);
        v = drawn[s]![f] = range.draw(u, w);
        flows++;
      }
      if (v < 0x10000) col[i] = v;
    }
  }
  return flows;
}
