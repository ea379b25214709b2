// Seeded, serialisable PRNG (xoshiro128**) for training noise, GP interpolation weights and batch draws.

/** Serialisable RNG state: four uint32 words. */
export type RngState = [number, number, number, number];

/** SplitMix32 step, used only to expand a seed into the xoshiro state. */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [x, z >>> 0];
}

/**
 * xoshiro128** (Blackman & Vigna): 128-bit state, 32-bit outputs, fast in JS with Math.imul.
 * Every draw is a pure function of the state, so saving `state()` in a checkpoint and restoring it
 * continues the exact same stream (resume-after-kill equals an uninterrupted run).
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | RngState) {
    if (Array.isArray(seed)) {
      [this.s0, this.s1, this.s2, this.s3] = seed.map((v) => v >>> 0) as RngState;
    } else {
      let x = seed >>> 0;
      // Mix the high part of seeds above 2^32 too, so seed 1 and 2^32 + 1 differ.
      x ^= Math.floor(seed / 4294967296) >>> 0;
      const out: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [nx, z] = splitmix32(x);
        x = nx;
        out.push(z);
      }
      [this.s0, this.s1, this.s2, this.s3] = out as RngState;
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Next uint32. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in the open interval (0, 1), 32 bits of resolution. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Uniform integer in [0, n) without modulo bias (Lemire's method with rejection). */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296 && Number.isInteger(n))) throw new RangeError(`Rng.int: bad bound ${n}`);
    const threshold = (4294967296 - n) % n;
    for (;;) {
      const x = this.nextU32();
      if (n < 2097152) {
        const m = x * n; // exact in float64 since x·n < 2^53
        const lo = m % 4294967296;
        if (lo >= threshold) return Math.floor(m / 4294967296);
      } else {
        const r = x % n;
        if (x - r <= 4294967296 - n) return r;
      }
    }
  }

  /** Fills `out` with N(0, 1) draws (Box–Muller, both values of each pair used). */
  fillNormal(out: Float32Array | Float64Array): typeof out {
    let i = 0;
    const n = out.length;
    while (i < n) {
      const u1 = this.uniform();
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = 2 * Math.PI * u2;
      out[i++] = r * Math.cos(th);
      if (i < n) out[i++] = r * Math.sin(th);
    }
    return out;
  }

  normal(n: number): Float32Array {
    return this.fillNormal(new Float32Array(n)) as Float32Array;
  }

  /** Fills `out` with U(0, 1) draws. */
  uniformArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
