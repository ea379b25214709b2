// Simple marginal distances between real and generated encoded flows (the quality check of the model tests).
import type { ModelLayout } from '../../src/model/layout.js';
import { layoutWidth } from '../../src/model/layout.js';

export interface Flows {
  n: number;
  attributes: Float32Array; // [n, A]
  features: Float32Array; // [n, T, F]
  genFlag: Float32Array; // [n, T]
}

/** Total variation distance between two categorical histograms. */
function tv(a: number[], b: number[]): number {
  const sa = a.reduce((x, y) => x + y, 0) || 1;
  const sb = b.reduce((x, y) => x + y, 0) || 1;
  let d = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) d += Math.abs((a[i] ?? 0) / sa - (b[i] ?? 0) / sb);
  return d / 2;
}

/** 1-D Wasserstein-1 distance between two samples (values in [-1, 1]), via 100 quantiles. */
function w1(a: number[], b: number[]): number {
  if (a.length === 0 || b.length === 0) return 1;
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  let d = 0;
  const Q = 100;
  for (let q = 0; q < Q; q++) {
    const p = (q + 0.5) / Q;
    d += Math.abs(sa[Math.floor(p * sa.length)]! - sb[Math.floor(p * sb.length)]!);
  }
  return d / Q;
}

/**
 * Mean over fields of: TV distance of argmax categories (softmax fields) or W1 distance of values
 * (continuous dims), for attributes and for the features of valid records; plus TV of flow lengths.
 */
export function marginalDistance(real: Flows, syn: Flows, layout: ModelLayout): { mean: number; parts: Record<string, number> } {
  const A = layoutWidth(layout.attributes);
  const F = layoutWidth(layout.features);
  const T = layout.maxLen;
  const parts: Record<string, number> = {};
  const collect = (f: Flows, kind: 'attr' | 'feat', offset: number, dim: number, cat: boolean): number[] => {
    const out: number[] = [];
    const read = (base: number): void => {
      if (cat) {
        let best = 0;
        for (let k = 1; k < dim; k++) if (f[kind === 'attr' ? 'attributes' : 'features'][base + k]! > f[kind === 'attr' ? 'attributes' : 'features'][base + best]!) best = k;
        out.push(best);
      } else out.push(f[kind === 'attr' ? 'attributes' : 'features'][base]!);
    };
    for (let i = 0; i < f.n; i++) {
      if (kind === 'attr') read(i * A + offset);
      else for (let t = 0; t < T; t++) if (f.genFlag[i * T + t]! > 0.5) read((i * T + t) * F + offset);
    }
    return out;
  };
  const hist = (xs: number[], k: number): number[] => {
    const h = new Array<number>(k).fill(0);
    for (const x of xs) h[x]!++;
    return h;
  };
  for (const [kind, fields] of [['attr', layout.attributes], ['feat', layout.features]] as const) {
    for (const fld of fields) {
      if (fld.activation === 'softmax') {
        parts[`${kind}:${fld.name}`] = tv(hist(collect(real, kind, fld.offset, fld.dim, true), fld.dim), hist(collect(syn, kind, fld.offset, fld.dim, true), fld.dim));
      } else {
        for (let k = 0; k < fld.dim; k++) parts[`${kind}:${fld.name}[${k}]`] = w1(collect(real, kind, fld.offset + k, 1, false), collect(syn, kind, fld.offset + k, 1, false));
      }
    }
  }
  const lens = (f: Flows): number[] => {
    const out = new Array<number>(T + 1).fill(0);
    for (let i = 0; i < f.n; i++) {
      let l = 0;
      for (let t = 0; t < T; t++) l += f.genFlag[i * T + t]! > 0.5 ? 1 : 0;
      out[l]!++;
    }
    return out;
  };
  parts['length'] = tv(lens(real), lens(syn));
  const vals = Object.values(parts);
  return { mean: vals.reduce((x, y) => x + y, 0) / vals.length, parts };
}
