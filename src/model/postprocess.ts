// Sampling post-processing in TS: gen-flag stopping rule, masks and lengths, discrete attribute copy.
import type { FieldSlice } from './layout.js';
import { layoutWidth } from './layout.js';

/** Generated flows after the stopping rule. Features exclude the gen-flag dims. */
export interface StoppedFeatures {
  /** [n, T, F], zero after each flow's end. */
  features: Float32Array;
  /** [n, T], 1 for emitted records, 0 after the end. */
  genFlags: Float32Array;
  /** Records per flow (the first "end" record included). */
  lengths: Int32Array;
}

/**
 * Stopping rule (spec §3.1): a record is emitted while every earlier record's gen flag has argmax 0
 * ("continue"); the record whose flag first says "end" is the last one emitted (inclusive); everything
 * after is zeroed. `raw` is [n, T, F + 2] with the 2 flag dims last in each record. Ties go to
 * "continue", as argmax returns the first maximum.
 */
export function applyStoppingRule(raw: Float32Array, n: number, T: number, F: number): StoppedFeatures {
  return cutFlows(raw, n, T, F, 'applyStoppingRule', (_i, _t, src) => raw[src + F + 1]! > raw[src + F]!);
}

/**
 * applyStoppingRule with the "end" flag drawn instead of arg-maxed: record t of flow i is the last one when
 * `u(i, t)` < its flag's share of "end", flag[F + 1] / (flag[F] + flag[F + 1]) (the generator's softmax; a flow ends
 * at T at the latest). At few iterations the softmax rarely leans to "end" at the right record and its arg-max cut
 * nearly every flow after one record (UGR16 day, 924 iterations: 1.0007 records per flow, the real 1.30).
 */
export function sampleStoppingRule(raw: Float32Array, n: number, T: number, F: number, u: (i: number, t: number) => number): StoppedFeatures {
  return cutFlows(raw, n, T, F, 'sampleStoppingRule', (i, t, src) => {
    const go = raw[src + F]!;
    const end = raw[src + F + 1]!;
    return u(i, t) < (go + end > 0 ? end / (go + end) : 0.5);
  });
}

/** The records of each flow up to the first one `ends` (inclusive) says is its last; the flag dims dropped. */
function cutFlows(raw: Float32Array, n: number, T: number, F: number, name: string, ends: (i: number, t: number, src: number) => boolean): StoppedFeatures {
  const F2 = F + 2;
  if (raw.length !== n * T * F2) throw new RangeError(`${name}: expected ${n * T * F2} values, got ${raw.length}`);
  const features = new Float32Array(n * T * F);
  const genFlags = new Float32Array(n * T);
  const lengths = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (; t < T; t++) {
      const src = (i * T + t) * F2;
      const dst = (i * T + t) * F;
      for (let k = 0; k < F; k++) features[dst + k] = raw[src + k]!;
      genFlags[i * T + t] = 1;
      if (ends(i, t, src)) {
        t++;
        break;
      }
    }
    lengths[i] = t;
  }
  return { features, genFlags, lengths };
}

/**
 * Record validity as the generator graph computes it (spec §3.1, TF's per-record `gen_flag`):
 * mask[t] = Π_{s<t} [argmax flag_s = 0]. Returns the [n, T] mask of `raw` [n, T, F + 2]; applyStoppingRule's
 * genFlags equal it. (The training graphs mask what D sees per sampleLen group, not per record: see
 * featureGenerator's `masked`.)
 */
export function stopMask(raw: Float32Array, n: number, T: number, F: number): Float32Array {
  const F2 = F + 2;
  const mask = new Float32Array(n * T);
  for (let i = 0; i < n; i++) {
    let m = 1;
    for (let t = 0; t < T; t++) {
      mask[i * T + t] = m;
      const src = (i * T + t) * F2;
      if (raw[src + F + 1]! > raw[src + F]!) m = 0;
    }
  }
  return mask;
}

/**
 * The discrete copy of attributes that conditions the feature generator: argmax one-hot for softmax
 * heads (first maximum wins), the value itself for sigmoid/tanh heads. `attrs` is [n, A].
 */
export function discreteCopy(attrs: Float32Array, fields: readonly FieldSlice[]): Float32Array {
  const A = layoutWidth(fields);
  const n = attrs.length / A;
  const out = new Float32Array(attrs.length);
  for (let i = 0; i < n; i++) {
    for (const f of fields) {
      const base = i * A + f.offset;
      if (f.activation === 'softmax') {
        let best = 0;
        for (let k = 1; k < f.dim; k++) if (attrs[base + k]! > attrs[base + best]!) best = k;
        out[base + best] = 1;
      } else {
        for (let k = 0; k < f.dim; k++) out[base + k] = attrs[base + k]!;
      }
    }
  }
  return out;
}
