// Compact files of attribute rows for the generate stage's scratch files (issue 19). A generated attribute row is
// mostly one-hot groups: with the netflow preset's `ipTop` addresses 640 of its A = 696 float32 values are the two
// 256-way address softmaxes and 64 two-way address bits, so a row took 2.8 KB on disk, written and read back four
// times per flow (sampled, accepted, merged, deduplicated): ~59 GB of scratch for `--flows 10000000`. Here each
// one-hot group is stored as its index (one byte, two beyond 256 choices) and the other values as float32: 220 bytes
// a row at that layout. The files say so in a header, and workdir.ts's readers decode them transparently, so every
// reader sees the same float32 rows, bit for bit.
//
// File: "NSROWS01" | u32 LE header length | JSON header | zero padding to a multiple of 8 | rows of `rowBytes` each.
// Row: the float32 values of `floats` (runs [offset, dim] of the row, in order), then one index per group of
// `groups` ([offset, width]: a u8 when width ≤ 256, else a little-endian u16), zero padding to a multiple of 4.
import type { Layout } from '../encode/tensors.js';
import { InputError } from '../errors.js';

export const ROWS_MAGIC = 'NSROWS01';
/** The bit pattern of a float32 1. */
const ONE = 0x3f800000;

interface RowCodecSpec {
  A: number;
  groups: [number, number][];
  floats: [number, number][];
}

export class RowCodec {
  /** Bytes per encoded row. */
  readonly rowBytes: number;
  /** The file header (magic, length, JSON, padding): the offset of the first row. */
  readonly header: Uint8Array;
  private readonly floatCount: number;
  /** Float runs (offset, length), groups (offset, width, two-byte index), the row's first index byte. */
  private readonly plan: { fOff: Int32Array; fLen: Int32Array; gOff: Int32Array; gW: Int32Array; wide: Uint8Array; idxBase: number };

  constructor(readonly spec: RowCodecSpec) {
    this.floatCount = spec.floats.reduce((a, [, d]) => a + d, 0);
    this.plan = {
      fOff: Int32Array.from(spec.floats, ([o]) => o),
      fLen: Int32Array.from(spec.floats, ([, d]) => d),
      gOff: Int32Array.from(spec.groups, ([o]) => o),
      gW: Int32Array.from(spec.groups, ([, w]) => w),
      wide: Uint8Array.from(spec.groups, ([, w]) => (w > 256 ? 1 : 0)),
      idxBase: 4 * this.floatCount,
    };
    const indexBytes = spec.groups.reduce((a, [, w]) => a + (w > 256 ? 2 : 1), 0);
    this.rowBytes = Math.ceil((4 * this.floatCount + indexBytes) / 4) * 4;
    const json = Buffer.from(JSON.stringify(spec));
    const len = Math.ceil((12 + json.length) / 8) * 8;
    const h = new Uint8Array(len);
    h.set(Buffer.from(ROWS_MAGIC, 'latin1'), 0);
    new DataView(h.buffer).setUint32(8, json.length, true);
    h.set(json, 12);
    this.header = h;
  }

  get A(): number {
    return this.spec.A;
  }

  /**
   * The codec of a layout's attribute rows as the generator's discrete output holds them: every softmax group is a
   * one-hot (the arg-max or a categorical draw), except the flow-start bins, which keep the softmax
   * (postprocess.flowStartBin "sample"); everything else (port embeddings, continuous fields) stays float32.
   * Undefined when that would not save a third of the bytes.
   */
  static forAttributes(layout: Pick<Layout, 'attributes' | 'attributeDim'>): RowCodec | undefined {
    const A = layout.attributeDim;
    const grouped = new Uint8Array(A);
    const groups: [number, number][] = [];
    for (const s of layout.attributes) {
      const g = s.groupSize ?? s.dim;
      if (s.activation !== 'softmax' || s.name === 'flow_start_bin' || g < 2 || g > 65_536 || s.dim % g !== 0) continue;
      for (let o = s.offset; o < s.offset + s.dim; o += g) {
        groups.push([o, g]);
        grouped.fill(1, o, o + g);
      }
    }
    const floats: [number, number][] = [];
    for (let i = 0; i < A; ) {
      if (grouped[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j < A && !grouped[j]) j++;
      floats.push([i, j - i]);
      i = j;
    }
    const codec = new RowCodec({ A, groups, floats });
    return codec.rowBytes <= (2 / 3) * 4 * A ? codec : undefined;
  }

  /**
   * Rows [n, A] encoded. A group that is not one-hot (exactly one 1, every other value 0) cannot be stored: an Error
   * naming `what`, the row and the offset (the rows would not read back as written). With `at`, only the rows `at[0],
   * at[1], …` of `rows`, in that order (no copy of them first).
   */
  encode(rows: Float32Array, what: string, at?: ArrayLike<number>): Uint8Array {
    const A = this.spec.A;
    if (rows.length % A !== 0) throw new Error(`${what}: ${rows.length} values are not whole rows of ${A}`);
    const n = at ? at.length : rows.length / A;
    if (at) for (let r = 0; r < n; r++) if (!(at[r]! >= 0 && at[r]! < rows.length / A)) throw new Error(`${what}: row ${at[r]} of ${rows.length / A} asked for`);
    const rb = this.rowBytes;
    const out = new Uint8Array(n * rb);
    // bit patterns: a float32 0 is 0, a 1 is ONE (a −0 or anything else is refused)
    const src = new Uint32Array(rows.buffer, rows.byteOffset, rows.length);
    const dst = new Uint32Array(out.buffer, 0, (n * rb) / 4);
    const { fOff, fLen, gOff, gW, wide, idxBase } = this.plan;
    const F = fOff.length;
    const G = gOff.length;
    for (let r = 0; r < n; r++) {
      const base = (at ? at[r]! : r) * A;
      let fo = (r * rb) >> 2;
      for (let k = 0; k < F; k++) {
        const o = base + fOff[k]!;
        const e = o + fLen[k]!;
        for (let i = o; i < e; i++) dst[fo++] = src[i]!;
      }
      let bo = r * rb + idxBase;
      for (let g = 0; g < G; g++) {
        const o = base + gOff[g]!;
        const w = gW[g]!;
        let hot = -1;
        let bad = false;
        for (let i = 0; i < w; i++) {
          const v = src[o + i]!;
          if (v === 0) continue;
          if (v !== ONE || hot >= 0) bad = true;
          hot = i;
        }
        if (bad || hot < 0) this.refuse(rows, at ? at[r]! : r, g, what);
        out[bo++] = hot & 0xff;
        if (wide[g]) out[bo++] = hot >>> 8;
      }
    }
    return out;
  }

  private refuse(rows: Float32Array, r: number, g: number, what: string): never {
    const A = this.spec.A;
    const o = this.plan.gOff[g]!;
    const w = this.plan.gW[g]!;
    for (let i = 0; i < w; i++) {
      const v = rows[r * A + o + i]!;
      if (v !== 0 || Object.is(v, -0)) {
        if (v !== 1 || rows.subarray(r * A + o, r * A + o + w).filter((x) => x !== 0).length > 1 || Object.is(v, -0)) {
          throw new Error(`${what}: row ${r} is not one-hot at values ${o}..${o + w - 1} (value ${v} at ${o + i}); a compact row file stores that group as an index`);
        }
      }
    }
    throw new Error(`${what}: row ${r} has no 1 at values ${o}..${o + w - 1}; a compact row file stores that group as an index`);
  }

  /**
   * The byte of an encoded row that holds the index of the two-way group at attribute offset `offset` (a flow tag: 1 =
   * the row's [offset + 1] is the hot value); undefined when no such group is stored as an index.
   */
  flagByte(offset: number): number | undefined {
    const { gOff, gW, wide, idxBase } = this.plan;
    let bo = idxBase;
    for (let g = 0; g < gOff.length; g++) {
      if (gOff[g] === offset) return gW[g] === 2 ? bo : undefined;
      bo += wide[g] ? 2 : 1;
    }
    return undefined;
  }

  /** The rows [n, A] of `n` encoded rows at `bytes`; an index past its group is an InputError naming `path`. */
  decode(bytes: Uint8Array, n: number, path = 'compact rows'): Float32Array {
    const A = this.spec.A;
    const rb = this.rowBytes;
    const out = new Float32Array(n * A);
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const src = new Uint32Array(aligned.buffer, aligned.byteOffset, (n * rb) / 4);
    const dst = new Uint32Array(out.buffer);
    const { fOff, fLen, gOff, gW, wide, idxBase } = this.plan;
    const F = fOff.length;
    const G = gOff.length;
    for (let r = 0; r < n; r++) {
      const base = r * A;
      let fo = (r * rb) >> 2;
      for (let k = 0; k < F; k++) {
        const o = base + fOff[k]!;
        const e = o + fLen[k]!;
        for (let i = o; i < e; i++) dst[i] = src[fo++]!;
      }
      let bo = r * rb + idxBase;
      for (let g = 0; g < G; g++) {
        let hot = aligned[bo++]!;
        if (wide[g]) hot |= aligned[bo++]! << 8;
        if (hot >= gW[g]!) throw new InputError(`${path}: row ${r} holds index ${hot} for a group of ${gW[g]} values`, path);
        dst[base + gOff[g]! + hot] = ONE;
      }
    }
    return out;
  }

  /**
   * The codec of a file whose first bytes are `head` (at least 12, more when the header is longer: then `need` says
   * how many), or undefined when it is not a compact row file. A damaged header is an InputError naming `path`.
   */
  static parse(head: Uint8Array, path: string): { codec: RowCodec; dataOffset: number } | { need: number } | undefined {
    if (head.length < 8 || Buffer.from(head.subarray(0, 8)).toString('latin1') !== ROWS_MAGIC) return undefined;
    if (head.length < 12) return { need: 12 };
    const len = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
    if (head.length < 12 + len) return { need: 12 + len };
    let spec: RowCodecSpec;
    try {
      spec = JSON.parse(Buffer.from(head.subarray(12, 12 + len)).toString('utf8')) as RowCodecSpec;
    } catch {
      throw new InputError(`${path}: the compact row file's header is not JSON`, path, { offset: 12 });
    }
    if (!(Number.isInteger(spec?.A) && spec.A > 0 && Array.isArray(spec.groups) && Array.isArray(spec.floats))) {
      throw new InputError(`${path}: the compact row file's header lacks A, groups or floats`, path, { offset: 12 });
    }
    const codec = new RowCodec(spec);
    return { codec, dataOffset: codec.header.length };
  }
}
