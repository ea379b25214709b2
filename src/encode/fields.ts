// Field encoders with fit / transform / inverse and JSON state: IP bits, integer bits, word2vec port/proto, categorical, continuous.
import { InternalError, InputError } from '../errors.js';
import type { Normalization } from '../config/schema.js';
import { cosineIndexFor, type CosineIndex } from './knn.js';

export type Activation = 'softmax' | 'sigmoid' | 'tanh' | 'none';

/** One output slice of the attribute or feature vector; the model builds one head per slice. */
export interface LayoutSlice {
  name: string;
  kind: 'attribute' | 'feature';
  /** Offset within the attribute vector (kind attribute) or the per-step feature vector (kind feature). */
  offset: number;
  dim: number;
  activation: Activation;
  /** For softmax slices: the slice is dim/groupSize independent one-hots of groupSize entries each. */
  groupSize?: number;
  /** True when the generator should feed argmax one-hots (not the soft output) to the feature LSTM. */
  discrete: boolean;
  encoding: string;
}

/** Min-max scaling of x (after optional log1p) into [0,1] or [-1,1]. */
export class ContinuousEncoder {
  readonly encoding = 'continuous';
  min = Infinity;
  max = -Infinity;
  /**
   * Decoding rounds to integers. Fixed when the constructor is given it (the config's `integer`, or in DP mode the
   * column's known type: a fact learnt from the private data would be released outside ε); otherwise true while
   * every fitted value was an integer.
   */
  integral = true;
  constructor(
    readonly column: string,
    readonly normalization: Normalization = 'zeroOne',
    readonly log1p = false,
    fixedMin?: number,
    fixedMax?: number,
    fixedIntegral?: boolean,
    /**
     * A 2-way head [at the minimum, above it] before the value: a sigmoid never outputs its bound exactly, so a field
     * with a point mass at its minimum (NetFlow: a third of UGR16's records have td 0 and one packet) came out with
     * none (`pointMass` in the config).
     */
    readonly pointMass = false,
    /**
     * K > 0: a softmax over the field's K most frequent values (each in ≥ 2 records) plus "other" before the value; a
     * value of those decodes exactly, "other" from the value head. Packet lengths are point masses (enterprise pcap: 52,
     * 60 and 57 bytes are 73% of packets) that a sigmoid smears over 40–60 bytes (`topValues` in the config).
     */
    readonly topValues = 0,
  ) {
    if (fixedMin !== undefined) this.min = log1p ? Math.log1p(fixedMin) : fixedMin;
    if (fixedMax !== undefined) this.max = log1p ? Math.log1p(fixedMax) : fixedMax;
    this.fixedMin = fixedMin !== undefined;
    this.fixedMax = fixedMax !== undefined;
    if (fixedIntegral !== undefined) this.integral = fixedIntegral;
    this.fixedIntegral = fixedIntegral !== undefined;
  }
  private readonly fixedMin: boolean;
  private readonly fixedMax: boolean;
  private readonly fixedIntegral: boolean;
  /** topValues: the fitted frequent values, most frequent first (empty when off or when no value repeats). */
  values: number[] = [];
  private valueIndex = new Map<number, number>();
  get dim(): number {
    const c = this.valueClasses;
    return c > 0 ? c + 1 : 1;
  }
  /**
   * Classes of the softmax head before the value: `pointMass` 2 (at the minimum, above it), `topValues` K' + 1 (the
   * fitted values, "other"); 0 when the field has no such head.
   */
  get valueClasses(): number {
    return this.pointMass ? 2 : this.values.length > 0 ? this.values.length + 1 : 0;
  }
  /** The head's class of x (the last class: the value head decides). */
  private classOf(x: number): number {
    if (this.pointMass) return (this.log1p ? Math.log1p(x) : x) <= this.min ? 0 : 1;
    return this.valueIndex.get(x) ?? this.values.length;
  }
  setValues(values: number[]): void {
    this.values = values;
    this.valueIndex = new Map(values.map((v, i) => [v, i]));
  }
  get activation(): Activation {
    return this.normalization === 'zeroOne' ? 'sigmoid' : 'tanh';
  }
  fit(values: ArrayLike<number>): void {
    let mn = Infinity;
    let mx = -Infinity;
    let integral = this.integral;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      if (integral && !Number.isInteger(x)) integral = false;
      const y = this.log1p ? Math.log1p(x) : x;
      if (y < mn) mn = y;
      if (y > mx) mx = y;
    }
    if (!this.fixedIntegral) this.integral = integral;
    if (!this.fixedMin) this.min = Math.min(this.min, mn);
    if (!this.fixedMax) this.max = Math.max(this.max, mx);
    if (this.topValues > 0) {
      const counts = new Map<number, number>();
      for (let i = 0; i < values.length; i++) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
      const ranked = [...counts.entries()].filter(([, c]) => c >= 2).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      this.setValues(ranked.slice(0, this.topValues).map(([v]) => v));
    }
  }
  /** Normalised value (clamped to the range; a fixed DP range may not cover the data). */
  transform(x: number): number {
    const y = this.log1p ? Math.log1p(x) : x;
    const span = this.max - this.min;
    let u = span > 0 ? (y - this.min) / span : 0;
    if (u < 0) u = 0;
    else if (u > 1) u = 1;
    return this.normalization === 'zeroOne' ? u : 2 * u - 1;
  }
  inverse(v: number): number {
    let u = this.normalization === 'zeroOne' ? v : (v + 1) / 2;
    if (!(u >= 0)) u = 0;
    else if (u > 1) u = 1;
    const y = this.min + u * (this.max - this.min);
    let x = this.log1p ? Math.expm1(y) : y;
    if (this.integral) x = Math.round(x);
    return x;
  }
  encode(x: number, out: Float32Array, off: number): void {
    const c = this.valueClasses;
    if (c === 0) {
      out[off] = this.transform(x);
      return;
    }
    out[off + this.classOf(x)] = 1;
    out[off + c] = this.transform(x);
  }
  decode(src: Float32Array, off: number): number {
    const c = this.valueClasses;
    if (c === 0) return this.inverse(src[off]!);
    let best = 0;
    for (let i = 1; i < c; i++) if (src[off + i]! > src[off + best]!) best = i;
    if (best === c - 1) return this.inverse(src[off + c]!);
    return this.pointMass ? this.inverse(this.normalization === 'zeroOne' ? 0 : -1) : this.values[best]!;
  }
  toJSON(): object {
    return {
      encoding: this.encoding, column: this.column, normalization: this.normalization, log1p: this.log1p, min: this.min, max: this.max, integral: this.integral, ...(this.pointMass ? { pointMass: true } : {}),
      ...(this.topValues > 0 ? { topValues: this.topValues, values: this.values } : {}),
    };
  }
  static fromJSON(s: { column: string; normalization: Normalization; log1p: boolean; min: number; max: number; integral: boolean; pointMass?: boolean; topValues?: number; values?: number[] }): ContinuousEncoder {
    const e = new ContinuousEncoder(s.column, s.normalization, s.log1p, undefined, undefined, undefined, s.pointMass === true, s.topValues ?? 0);
    if (s.values) e.setValues(s.values);
    e.min = s.min;
    e.max = s.max;
    e.integral = s.integral;
    return e;
  }
}

/** One-hot over a persisted, stable list of choices. */
export class CategoricalEncoder {
  readonly encoding = 'categorical';
  choices: (string | number)[];
  private index = new Map<string, number>();
  /** Values appended to configured choices during fit (non-DP only). */
  extra: (string | number)[] = [];
  constructor(
    readonly column: string,
    choices?: (string | number)[],
    private readonly frozen = false,
  ) {
    this.choices = choices ? [...choices] : [];
    this.reindex();
  }
  private reindex(): void {
    this.index = new Map(this.choices.map((c, i) => [String(c), i]));
  }
  get dim(): number {
    return this.choices.length;
  }
  get activation(): Activation {
    return 'softmax';
  }
  /** Unseen values are appended in sorted order (stable across runs), or rejected when the choices are frozen. */
  fit(values: ArrayLike<string | number>): void {
    const seen = new Set<string>();
    const fresh: (string | number)[] = [];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const k = String(v);
      if (this.index.has(k) || seen.has(k)) continue;
      seen.add(k);
      fresh.push(v);
    }
    if (fresh.length === 0) return;
    if (this.frozen) {
      throw new InputError(
        `column ${this.column} has values outside its fixed choices [${this.choices.join(', ')}]: ${fresh.slice(0, 5).join(', ')}`,
      );
    }
    fresh.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
    this.extra.push(...fresh);
    this.choices.push(...fresh);
    this.reindex();
  }
  indexOf(v: string | number): number {
    const i = this.index.get(String(v));
    if (i === undefined) throw new InternalError(`categorical ${this.column}: value ${String(v)} was not fitted`);
    return i;
  }
  encode(v: string | number, out: Float32Array, off: number): void {
    out[off + this.indexOf(v)] = 1;
  }
  decode(src: Float32Array, off: number): string | number {
    let best = 0;
    for (let i = 1; i < this.choices.length; i++) if (src[off + i]! > src[off + best]!) best = i;
    return this.choices[best]!;
  }
  toJSON(): object {
    return { encoding: this.encoding, column: this.column, choices: this.choices };
  }
  static fromJSON(s: { column: string; choices: (string | number)[] }): CategoricalEncoder {
    return new CategoricalEncoder(s.column, s.choices);
  }
}

/** Unsigned integer → nBits bits, MSB first, each bit a 2-way one-hot (0 → [1,0], 1 → [0,1]). */
export class BitsEncoder {
  readonly encoding: string = 'bits';
  constructor(
    readonly column: string,
    readonly nBits: number,
  ) {}
  get dim(): number {
    return 2 * this.nBits;
  }
  get activation(): Activation {
    return 'softmax';
  }
  fit(): void {}
  encode(x: number, out: Float32Array, off: number): void {
    for (let b = 0; b < this.nBits; b++) {
      // MSB first; use division so 32-bit values stay unsigned
      const bit = Math.floor(x / 2 ** (this.nBits - 1 - b)) % 2;
      out[off + 2 * b + bit] = 1;
    }
  }
  decode(src: Float32Array, off: number): number {
    let v = 0;
    for (let b = 0; b < this.nBits; b++) v = v * 2 + (src[off + 2 * b + 1]! > src[off + 2 * b]! ? 1 : 0);
    return v;
  }
  toJSON(): object {
    return { encoding: this.encoding, column: this.column, nBits: this.nBits };
  }
}

/**
 * IP addresses as bits: 32 for IPv4-only data, 128 when IPv6 is present (IPv4 then as ::ffff:a.b.c.d, decoded back to
 * IPv4). `encode`/`decode` work on 16-byte network-order buffers in IPv6 mode, on uint32 otherwise.
 */
export class IpBitsEncoder {
  readonly encoding: 'ipBits' | 'ipTop' = 'ipBits';
  constructor(
    readonly column: string,
    public bits: 32 | 128 = 32,
  ) {}
  get dim(): number {
    return 2 * this.bits;
  }
  get activation(): Activation {
    return 'softmax';
  }
  encode4(x: number, out: Float32Array, off: number): void {
    if (this.bits === 32) {
      for (let b = 0; b < 32; b++) out[off + 2 * b + ((x >>> (31 - b)) & 1)] = 1;
      return;
    }
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes[12] = x >>> 24;
    bytes[13] = (x >>> 16) & 255;
    bytes[14] = (x >>> 8) & 255;
    bytes[15] = x & 255;
    this.encode6(bytes, 0, out, off);
  }
  encode6(bytes: Uint8Array, boff: number, out: Float32Array, off: number): void {
    if (this.bits !== 128) throw new InternalError('IPv6 address in a 32-bit IP encoder');
    for (let b = 0; b < 128; b++) out[off + 2 * b + ((bytes[boff + (b >>> 3)]! >>> (7 - (b & 7))) & 1)] = 1;
  }
  /** Decode to { v4 } (uint32) or { v6 } (16 bytes). */
  decode(src: Float32Array, off: number): { version: 4 | 6; v4: number; v6?: Uint8Array } {
    if (this.bits === 32) {
      let v = 0;
      for (let b = 0; b < 32; b++) v = v * 2 + (src[off + 2 * b + 1]! > src[off + 2 * b]! ? 1 : 0);
      return { version: 4, v4: v };
    }
    const bytes = new Uint8Array(16);
    for (let b = 0; b < 128; b++) if (src[off + 2 * b + 1]! > src[off + 2 * b]!) bytes[b >>> 3]! |= 1 << (7 - (b & 7));
    return IpBitsEncoder.fromBytes(bytes);
  }
  /** A 16-byte address as IPv4 when it is ::ffff:a.b.c.d, else IPv6. */
  static fromBytes(bytes: Uint8Array): { version: 4 | 6; v4: number; v6?: Uint8Array } {
    let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
    for (let i = 0; i < 10 && mapped; i++) if (bytes[i] !== 0) mapped = false;
    if (mapped) return { version: 4, v4: ((bytes[12]! << 24) | (bytes[13]! << 16) | (bytes[14]! << 8) | bytes[15]!) >>> 0 };
    return { version: 6, v4: 0, v6: bytes };
  }
  toJSON(): object {
    return { encoding: this.encoding, column: this.column, bits: this.bits };
  }
}

/**
 * A word2vec vocabulary (ports or protocols): value -> L2-normalised vector, decoded by exact cosine nearest neighbour
 * over this vocabulary only (ports and protocols never collide).
 */
export class EmbeddingEncoder {
  private index?: CosineIndex;
  private readonly pos = new Map<number, number>();
  constructor(
    readonly column: string,
    readonly encoding: 'word2vecPort' | 'word2vecProto',
    readonly values: number[],
    readonly vectors: Float32Array,
    readonly vecDim: number,
  ) {
    values.forEach((v, i) => this.pos.set(v, i));
    let max = -1;
    for (const v of values) if (v > max) max = v;
    if (max < 65536) {
      this.lut = new Int32Array(max + 1).fill(-1);
      values.forEach((v, i) => (this.lut![v] = i));
    }
  }
  /** value → row for small non-negative integer vocabularies (ports, protocols). */
  private lut?: Int32Array;
  get dim(): number {
    return this.vecDim;
  }
  get activation(): Activation {
    return 'tanh';
  }
  has(v: number): boolean {
    return this.pos.has(v);
  }
  rowOf(v: number): number {
    const l = this.lut;
    if (l && v >= 0 && v < l.length && l[v]! >= 0) return l[v]!;
    const i = this.pos.get(v);
    if (i === undefined) throw new InternalError(`${this.column}: value ${v} is not in the ${this.encoding} vocabulary`);
    return i;
  }
  encode(v: number, out: Float32Array, off: number): void {
    const r = this.rowOf(v) * this.vecDim;
    for (let d = 0; d < this.vecDim; d++) out[off + d] = this.vectors[r + d]!;
  }
  decode(src: Float32Array, off: number): number {
    return this.values[this.nearestIndex().nearest(src, off)]!;
  }
  /** The vocabulary's nearest-neighbour index (built once per vector table). */
  nearestIndex(): CosineIndex {
    this.index ??= cosineIndexFor(this.vectors, this.values.length, this.vecDim);
    return this.index;
  }
}

/**
 * IP addresses as a categorical over the trace's most popular addresses plus an "other" class, followed by the bits of
 * the address (as `ipBits`). The bits are encoded for every address, so the bits head learns from all flows; decoding
 * takes the class's address unless the class is "other", then the bits. Bits alone reproduce which addresses occur but
 * not how popular each is (a GAN's bit heads concentrate flows on a few addresses and scatter the tail to near-miss
 * addresses); a softmax over the popular ones can carry their popularity. Addresses are keyed as decimal uint32 (IPv4)
 * or 32 hex digits (16 bytes, IPv6 mode).
 */
export class IpTopEncoder extends IpBitsEncoder {
  override readonly encoding = 'ipTop';
  /** The popular addresses, most popular first (keys as described above). */
  top: string[] = [];
  private index = new Map<string, number>();
  constructor(
    column: string,
    bits: 32 | 128,
    /** At most this many addresses get a class of their own. */
    readonly k: number,
    /** An address needs at least this many records to get a class (a one-off address stays in the bits). */
    readonly minCount: number,
  ) {
    super(column, bits);
  }
  /** Width of the categorical part (K found + "other"); the bits follow. */
  get classes(): number {
    return this.top.length + 1;
  }
  override get dim(): number {
    return this.classes + 2 * this.bits;
  }
  static key4(x: number): string {
    return String(x >>> 0);
  }
  /** key6 of ::ffff:a.b.c.d (an IPv4 row in IPv6 mode). */
  static key4in6(x: number): string {
    return `00000000000000000000ffff${(x >>> 0).toString(16).padStart(8, '0')}`;
  }
  static key6(bytes: Uint8Array, off: number): string {
    let s = '';
    for (let i = 0; i < 16; i++) s += bytes[off + i]!.toString(16).padStart(2, '0');
    return s;
  }
  /** Choose the popular addresses from per-record keys (ties: the smaller key first, so the choice is stable). */
  fit(keys: Iterable<string>): void {
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    const ranked = [...counts.entries()].filter(([, c]) => c >= this.minCount);
    ranked.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.setTop(ranked.slice(0, this.k).map(([key]) => key));
  }
  setTop(top: string[]): void {
    this.top = top;
    this.index = new Map(top.map((key, i) => [key, i]));
  }
  override encode4(x: number, out: Float32Array, off: number): void {
    if (this.bits === 128) return super.encode4(x, out, off); // re-enters encode6 with the mapped bytes
    out[off + (this.index.get(IpTopEncoder.key4(x)) ?? this.top.length)] = 1;
    super.encode4(x, out, off + this.classes);
  }
  override encode6(bytes: Uint8Array, boff: number, out: Float32Array, off: number): void {
    out[off + (this.index.get(IpTopEncoder.key6(bytes, boff)) ?? this.top.length)] = 1;
    super.encode6(bytes, boff, out, off + this.classes);
  }
  /** The arg-max class's address, or the bits when it is "other". */
  override decode(src: Float32Array, off: number): { version: 4 | 6; v4: number; v6?: Uint8Array } {
    const c = this.classes;
    let best = 0;
    for (let i = 1; i < c; i++) if (src[off + i]! > src[off + best]!) best = i;
    if (best === this.top.length) return super.decode(src, off + c);
    const key = this.top[best]!;
    if (this.bits === 32) return { version: 4, v4: Number(key) >>> 0 };
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = parseInt(key.slice(2 * i, 2 * i + 2), 16);
    return IpBitsEncoder.fromBytes(bytes);
  }
  override toJSON(): object {
    return { encoding: this.encoding, column: this.column, bits: this.bits, k: this.k, minCount: this.minCount, top: this.top };
  }
  static fromJSON(s: { column: string; bits: number; k: number; minCount: number; top: string[] }): IpTopEncoder {
    const e = new IpTopEncoder(s.column, s.bits === 128 ? 128 : 32, s.k, s.minCount);
    e.setTop(s.top);
    return e;
  }
}

export type FieldEncoder = ContinuousEncoder | CategoricalEncoder | BitsEncoder | IpBitsEncoder | EmbeddingEncoder;
