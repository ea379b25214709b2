// The project's one seeded random-number generator: xoshiro128** streams derived from (run seed, purpose name).

/**
 * Serialisable state of one stream (checkpoints save it): the key it was derived from and the four xoshiro words.
 * Plain JSON: `{ seed: 7, purpose: 'train/batches', words: [..4 uint32..] }`.
 */
export interface RngState {
  seed: number;
  purpose: string;
  words: [number, number, number, number];
}

/**
 * Version of the seeded streams: bump it when the algorithm, the seeding or a consumer's stream names change. Workdir
 * fingerprints include it, so a workdir reruns what the old streams made instead of mixing them with the new.
 */
export const RNG_STREAMS_VERSION = 1;

const TWO32 = 4294967296;
const INV32 = 1 / TWO32;
const MASK64 = (1n << 64n) - 1n;

/** SplitMix64's output function (Steele, Lea & Flood), the seeding Vigna recommends for xoshiro. */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** FNV-1a 64 over the UTF-8 bytes of `s`. */
function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

/**
 * The 128-bit starting state of stream (seed, purpose): two SplitMix64 outputs from a start point that mixes the
 * seed with the purpose's hash. A pure function of the pair, so streams never depend on one another.
 */
function initialWords(seed: number, purpose: string): [number, number, number, number] {
  let x = (BigInt.asUintN(64, BigInt(seed)) ^ mix64(fnv1a64(purpose))) & MASK64;
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    const z = mix64(x);
    out.push(Number(z & 0xffffffffn) | 0, Number(z >> 32n) | 0);
  }
  if ((out[0]! | out[1]! | out[2]! | out[3]!) === 0) out[0] = 1; // the all-zero state is a fixed point
  return out as [number, number, number, number];
}

/**
 * One named stream of xoshiro128** (Blackman & Vigna): 128-bit state, 32-bit outputs.
 *
 * A stream is keyed by the run seed and a purpose name (`word2vec`, `train/batches`, `split/flows`, …); its draws
 * are a pure function of that key and of how many were taken. `substream(name)` derives the stream
 * `purpose/name` from the key alone — never from draws already taken — so adding a consumer never shifts
 * another's stream. Saving `state()` and restoring it with `fromState` continues the exact same stream.
 */
export class Rng {
  /** The state lives in an Int32Array: int32 loads/stores, no boxed doubles in hot loops. */
  private readonly s = new Int32Array(4);

  /** Stream `purpose` of run seed `seed` (an integer; 64-bit two's complement beyond ±2^63). */
  constructor(
    readonly seed: number,
    readonly purpose: string,
  ) {
    if (!Number.isInteger(seed)) throw new RangeError(`Expected an integer for the rng seed but received ${seed}`);
    if (typeof purpose !== 'string' || purpose === '') throw new RangeError(`Expected a non-empty purpose name for the rng stream but received ${JSON.stringify(purpose)}`);
    this.s.set(initialWords(seed, purpose));
  }

  /** Same as `new Rng(seed, purpose)`. */
  static forPurpose(seed: number, purpose: string): Rng {
    return new Rng(seed, purpose);
  }

  /** The stream a checkpoint saved, continuing where it stopped. */
  static fromState(st: RngState): Rng {
    const r = new Rng(st.seed, st.purpose);
    r.setState(st);
    return r;
  }

  /** The independent stream `<purpose>/<name>` of the same seed (whatever this stream has drawn so far). */
  substream(name: string): Rng {
    if (typeof name !== 'string' || name === '') throw new RangeError(`Expected a non-empty substream name but received ${JSON.stringify(name)}`);
    return new Rng(this.seed, `${this.purpose}/${name}`);
  }

  state(): RngState {
    const s = this.s;
    return { seed: this.seed, purpose: this.purpose, words: [s[0]! >>> 0, s[1]! >>> 0, s[2]! >>> 0, s[3]! >>> 0] };
  }

  /** Continue from `st`, which must be a state of this same stream (seed and purpose). */
  setState(st: RngState): void {
    if (st.seed !== this.seed || st.purpose !== this.purpose) {
      throw new RangeError(`Expected a state of rng stream ${this.purpose} (seed ${this.seed}) but received one of ${st.purpose} (seed ${st.seed})`);
    }
    const w = st.words;
    if (!Array.isArray(w) || w.length !== 4 || !w.every((v) => Number.isInteger(v) && v >= 0 && v < TWO32) || w.every((v) => v === 0)) {
      throw new RangeError(`Expected four uint32 words, not all zero, for the rng state but received ${JSON.stringify(w)}`);
    }
    this.s.set(w.map((v) => v | 0));
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = (s3 << 11) | (s3 >>> 21);
    return r;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.nextU32() * INV32;
  }

  /** Uniform in the open interval (0, 1): safe for log and Box–Muller. */
  nextOpen(): number {
    return (this.nextU32() + 0.5) * INV32;
  }

  /** Uniform integer in [0, n), 1 ≤ n ≤ 2^32, without modulo bias (Lemire's multiply with rejection). */
  int(n: number): number {
    // The draw is the high word of the 64-bit product x·n. Its low word comes exact from Math.imul and decides
    // rejection; the threshold 2^32 mod n (a slow float modulo) is only needed when the low word is below n. The high
    // word is (x·n − lo) / 2^32 rounded: float64 x·n is off by at most 2^11, far less than half of 2^32. Kept small
    // so V8 inlines it into hot loops (word2vec).
    if (n >= 1 && n < TWO32 && n >>> 0 === n) {
      for (;;) {
        const x = this.nextU32();
        const lo = Math.imul(x, n) >>> 0;
        if (lo >= n || lo >= (TWO32 - n) % n) return Math.round((x * n - lo) * INV32);
      }
    }
    if (n === TWO32) return this.nextU32();
    throw new RangeError(`Expected an integer in [1, 2^32] for the rng bound but received ${n}`);
  }

  /** One N(0, 1) draw (Box–Muller, cosine branch; no value is carried between calls, so `state()` is complete). */
  normal(): number {
    const u1 = this.nextOpen();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with N(mean, std²) draws (Box–Muller, both values of each pair used). */
  fillNormal<A extends Float32Array | Float64Array>(out: A, std = 1, mean = 0): A {
    const n = out.length;
    let i = 0;
    while (i < n) {
      const r = Math.sqrt(-2 * Math.log(this.nextOpen()));
      const th = 2 * Math.PI * this.next();
      out[i++] = mean + std * r * Math.cos(th);
      if (i < n) out[i++] = mean + std * r * Math.sin(th);
    }
    return out;
  }

  /** n N(mean, std²) draws as float32. */
  normals(n: number, std = 1, mean = 0): Float32Array {
    return this.fillNormal(new Float32Array(n), std, mean);
  }

  /** n uniform draws in [lo, hi) as float32 (float32 rounding may reach hi). */
  uniforms(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /**
   * `k` distinct indices of [0, n), uniformly at random without replacement (partial Fisher–Yates: k draws), ascending;
   * all of them when k ≥ n (no draw).
   */
  sampleIndices(n: number, k: number): Int32Array {
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = i;
    if (k >= n) return ids;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = ids[i]!;
      ids[i] = ids[j]!;
      ids[j] = t;
    }
    return ids.slice(0, k).sort();
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
