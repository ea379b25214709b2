// Small, dependency-free classifiers for the downstream task (train on synthetic, test on real): decision
// tree and random forest (histogram CART, gini), gradient boosting (softmax, Newton leaves), logistic
// regression and a one-hidden-layer MLP (Adam). Row-major Float64Array features, Int32Array labels 0..K-1.
import { Rng } from '../core/rng.js';

export interface Dataset {
  x: Float64Array;
  y: Int32Array;
  n: number;
  d: number;
  classes: number;
}

export interface Classifier {
  /** Class index per row of `x` (row-major, `d` columns). */
  predict(x: Float64Array, n: number): Int32Array;
}

export type ClassifierName = 'decision_tree' | 'random_forest' | 'gradient_boosting' | 'logistic_regression' | 'mlp';
export const CLASSIFIERS: readonly ClassifierName[] = ['decision_tree', 'random_forest', 'gradient_boosting', 'logistic_regression', 'mlp'];

// ---------- feature binning (shared by the tree models) ----------

const MAX_BINS = 32;

/** Per-feature upper bin edges from training quantiles; value v falls in the first bin whose edge ≥ v. */
function binEdges(ds: Dataset): Float64Array[] {
  const edges: Float64Array[] = [];
  const col = new Float64Array(ds.n);
  for (let j = 0; j < ds.d; j++) {
    for (let i = 0; i < ds.n; i++) col[i] = ds.x[i * ds.d + j]!;
    const s = Float64Array.from(col).sort();
    const e: number[] = [];
    for (let b = 1; b < MAX_BINS; b++) {
      const v = s[Math.min(ds.n - 1, Math.floor((b * ds.n) / MAX_BINS))]!;
      if (e.length === 0 || v > e[e.length - 1]!) e.push(v);
    }
    edges.push(Float64Array.from(e));
  }
  return edges;
}

function binRows(x: Float64Array, n: number, d: number, edges: Float64Array[]): Uint8Array {
  const out = new Uint8Array(n * d);
  for (let j = 0; j < d; j++) {
    const e = edges[j]!;
    for (let i = 0; i < n; i++) {
      const v = x[i * d + j]!;
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (e[mid]! < v) lo = mid + 1;
        else hi = mid;
      }
      out[i * d + j] = lo;
    }
  }
  return out;
}

// ---------- trees ----------

interface Tree {
  feature: number[];
  /** rows with bin ≤ threshold go left */
  threshold: number[];
  left: number[];
  right: number[];
  /** leaf values: K probabilities (classification) or 1 value (regression) */
  value: Float64Array[];
}

interface TreeParams {
  maxDepth: number;
  minLeaf: number;
  /** features tried per split (≤ d) */
  mtry: number;
  r: Rng;
}

function newTree(): Tree {
  return { feature: [], threshold: [], left: [], right: [], value: [] };
}

function treeLeaf(tree: Tree, xb: Uint8Array, d: number, row: number): Float64Array {
  let node = 0;
  while (tree.feature[node]! >= 0) node = xb[row * d + tree.feature[node]!]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  return tree.value[node]!;
}

function pickFeatures(d: number, mtry: number, r: Rng): number[] {
  const f = Array.from({ length: d }, (_, i) => i);
  for (let i = 0; i < mtry; i++) {
    const j = i + r.int(d - i);
    [f[i], f[j]] = [f[j]!, f[i]!];
  }
  return f.slice(0, mtry);
}

/** Gini CART on binned features. */
function growClassTree(xb: Uint8Array, d: number, y: Int32Array, K: number, rows: Int32Array, p: TreeParams): Tree {
  const tree = newTree();
  const hist = new Float64Array(MAX_BINS * K);
  const build = (idx: Int32Array, depth: number): number => {
    const node = tree.feature.length;
    const counts = new Float64Array(K);
    for (let q = 0; q < idx.length; q++) counts[y[idx[q]!]!]! += 1;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    const probs = counts.map((c) => c / idx.length);
    tree.value.push(probs);
    let pure = false;
    for (const c of counts) if (c === idx.length) pure = true;
    if (depth >= p.maxDepth || idx.length < 2 * p.minLeaf || pure) return node;
    const n = idx.length;
    let parentSq = 0;
    for (const c of counts) parentSq += c * c;
    let best = parentSq / n; // maximise Σ_side Σ_k c² / n_side (equivalent to minimising weighted gini)
    let bestF = -1;
    let bestT = 0;
    for (const f of pickFeatures(d, p.mtry, p.r)) {
      hist.fill(0);
      for (let q = 0; q < idx.length; q++) {
        const i = idx[q]!;
        hist[xb[i * d + f]! * K + y[i]!]! += 1;
      }
      const left = new Float64Array(K);
      let nl = 0;
      for (let b = 0; b < MAX_BINS - 1; b++) {
        let added = 0;
        for (let k = 0; k < K; k++) {
          left[k]! += hist[b * K + k]!;
          added += hist[b * K + k]!;
        }
        if (added === 0) continue;
        nl += added;
        const nr = n - nl;
        if (nl < p.minLeaf || nr < p.minLeaf) continue;
        let sl = 0;
        let sr = 0;
        for (let k = 0; k < K; k++) {
          sl += left[k]! * left[k]!;
          const rc = counts[k]! - left[k]!;
          sr += rc * rc;
        }
        const score = sl / nl + sr / nr;
        if (score > best + 1e-12) {
          best = score;
          bestF = f;
          bestT = b;
        }
      }
    }
    if (bestF < 0) return node;
    let nl = 0;
    for (let q = 0; q < n; q++) if (xb[idx[q]! * d + bestF]! <= bestT) nl++;
    const li = new Int32Array(nl);
    const ri = new Int32Array(n - nl);
    let a = 0;
    let c = 0;
    for (let q = 0; q < n; q++) {
      const i = idx[q]!;
      if (xb[i * d + bestF]! <= bestT) li[a++] = i;
      else ri[c++] = i;
    }
    tree.feature[node] = bestF;
    tree.threshold[node] = bestT;
    tree.left[node] = build(li, depth + 1);
    tree.right[node] = build(ri, depth + 1);
    return node;
  };
  build(rows, 0);
  return tree;
}

/** Newton regression tree for boosting: leaf = −G/(H+λ), split gain on G²/(H+λ). */
function growBoostTree(xb: Uint8Array, d: number, g: Float64Array, h: Float64Array, rows: Int32Array, p: TreeParams, lambda = 1): Tree {
  const tree = newTree();
  const hg = new Float64Array(MAX_BINS);
  const hh = new Float64Array(MAX_BINS);
  const hc = new Float64Array(MAX_BINS);
  const build = (idx: Int32Array, depth: number): number => {
    const node = tree.feature.length;
    let G = 0;
    let H = 0;
    for (let q = 0; q < idx.length; q++) {
      G += g[idx[q]!]!;
      H += h[idx[q]!]!;
    }
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(Float64Array.of(-G / (H + lambda)));
    if (depth >= p.maxDepth || idx.length < 2 * p.minLeaf) return node;
    let best = (G * G) / (H + lambda) + 1e-9;
    let bestF = -1;
    let bestT = 0;
    for (let f = 0; f < d; f++) {
      hg.fill(0);
      hh.fill(0);
      hc.fill(0);
      for (let q = 0; q < idx.length; q++) {
        const i = idx[q]!;
        const b = xb[i * d + f]!;
        hg[b]! += g[i]!;
        hh[b]! += h[i]!;
        hc[b]! += 1;
      }
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let b = 0; b < MAX_BINS - 1; b++) {
        if (hc[b] === 0) continue;
        gl += hg[b]!;
        hl += hh[b]!;
        nl += hc[b]!;
        if (nl < p.minLeaf || idx.length - nl < p.minLeaf) continue;
        const gr = G - gl;
        const hr = H - hl;
        const score = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda);
        if (score > best) {
          best = score;
          bestF = f;
          bestT = b;
        }
      }
    }
    if (bestF < 0) return node;
    const li: number[] = [];
    const ri: number[] = [];
    for (let q = 0; q < idx.length; q++) (xb[idx[q]! * d + bestF]! <= bestT ? li : ri).push(idx[q]!);
    tree.feature[node] = bestF;
    tree.threshold[node] = bestT;
    tree.left[node] = build(Int32Array.from(li), depth + 1);
    tree.right[node] = build(Int32Array.from(ri), depth + 1);
    return node;
  };
  build(rows, 0);
  return tree;
}

function argmax(v: ArrayLike<number>): number {
  let b = 0;
  for (let k = 1; k < v.length; k++) if (v[k]! > v[b]!) b = k;
  return b;
}

function allRows(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}

export function trainDecisionTree(ds: Dataset, seed: number, maxDepth = 10): Classifier {
  const edges = binEdges(ds);
  const xb = binRows(ds.x, ds.n, ds.d, edges);
  const tree = growClassTree(xb, ds.d, ds.y, ds.classes, allRows(ds.n), { maxDepth, minLeaf: 3, mtry: ds.d, r: Rng.forPurpose(seed, 'classifier/decision-tree') });
  return {
    predict(x, n) {
      const tb = binRows(x, n, ds.d, edges);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = argmax(treeLeaf(tree, tb, ds.d, i));
      return out;
    },
  };
}

export function trainRandomForest(ds: Dataset, seed: number, trees = 20, maxDepth = 10): Classifier {
  const edges = binEdges(ds);
  const xb = binRows(ds.x, ds.n, ds.d, edges);
  const bootstrap = Rng.forPurpose(seed, 'classifier/random-forest/bootstrap');
  const r = Rng.forPurpose(seed, 'classifier/random-forest/features');
  const mtry = Math.max(1, Math.ceil(Math.sqrt(ds.d)));
  const forest: Tree[] = [];
  for (let t = 0; t < trees; t++) {
    const rows = new Int32Array(ds.n);
    for (let i = 0; i < ds.n; i++) rows[i] = bootstrap.int(ds.n);
    forest.push(growClassTree(xb, ds.d, ds.y, ds.classes, rows, { maxDepth, minLeaf: 1, mtry, r }));
  }
  return {
    predict(x, n) {
      const tb = binRows(x, n, ds.d, edges);
      const out = new Int32Array(n);
      const acc = new Float64Array(ds.classes);
      for (let i = 0; i < n; i++) {
        acc.fill(0);
        for (const tree of forest) {
          const v = treeLeaf(tree, tb, ds.d, i);
          for (let k = 0; k < ds.classes; k++) acc[k]! += v[k]!;
        }
        out[i] = argmax(acc);
      }
      return out;
    },
  };
}

export function trainGradientBoosting(ds: Dataset, seed: number, rounds = 25, lr = 0.3, maxDepth = 3): Classifier {
  const edges = binEdges(ds);
  const xb = binRows(ds.x, ds.n, ds.d, edges);
  const K = ds.classes;
  const F = new Float64Array(ds.n * K);
  const g = new Float64Array(ds.n);
  const h = new Float64Array(ds.n);
  const prob = new Float64Array(ds.n * K);
  const model: Tree[][] = [];
  const rows = allRows(ds.n);
  const params: TreeParams = { maxDepth, minLeaf: 5, mtry: ds.d, r: Rng.forPurpose(seed, 'classifier/gradient-boosting') };
  const softmax = (src: Float64Array, dst: Float64Array, i: number): void => {
    let mx = -Infinity;
    for (let k = 0; k < K; k++) mx = Math.max(mx, src[i * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += dst[i * K + k] = Math.exp(src[i * K + k]! - mx);
    for (let k = 0; k < K; k++) dst[i * K + k]! /= s;
  };
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < ds.n; i++) softmax(F, prob, i);
    const trees: Tree[] = [];
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < ds.n; i++) {
        const pk = prob[i * K + k]!;
        g[i] = pk - (ds.y[i] === k ? 1 : 0);
        h[i] = Math.max(pk * (1 - pk), 1e-6);
      }
      const tree = growBoostTree(xb, ds.d, g, h, rows, params);
      for (let i = 0; i < ds.n; i++) F[i * K + k]! += lr * treeLeaf(tree, xb, ds.d, i)[0]!;
      trees.push(tree);
    }
    model.push(trees);
  }
  return {
    predict(x, n) {
      const tb = binRows(x, n, ds.d, edges);
      const out = new Int32Array(n);
      const s = new Float64Array(K);
      for (let i = 0; i < n; i++) {
        s.fill(0);
        for (const trees of model) for (let k = 0; k < K; k++) s[k]! += lr * treeLeaf(trees[k]!, tb, ds.d, i)[0]!;
        out[i] = argmax(s);
      }
      return out;
    },
  };
}

// ---------- linear / neural ----------

/** Standardisation fitted on the training rows (constant columns get scale 1). */
function standardiser(ds: Dataset): (x: Float64Array, n: number) => Float64Array {
  const mu = new Float64Array(ds.d);
  const sd = new Float64Array(ds.d);
  for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.d; j++) mu[j]! += ds.x[i * ds.d + j]! / ds.n;
  for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.d; j++) sd[j]! += (ds.x[i * ds.d + j]! - mu[j]!) ** 2 / ds.n;
  for (let j = 0; j < ds.d; j++) sd[j] = sd[j]! > 1e-12 ? Math.sqrt(sd[j]!) : 1;
  return (x, n) => {
    const z = new Float64Array(n * ds.d);
    for (let i = 0; i < n; i++) for (let j = 0; j < ds.d; j++) z[i * ds.d + j] = (x[i * ds.d + j]! - mu[j]!) / sd[j]!;
    return z;
  };
}

class Adam {
  private m: Float64Array;
  private v: Float64Array;
  private t = 0;
  constructor(
    private readonly w: Float64Array,
    private readonly lr: number,
  ) {
    this.m = new Float64Array(w.length);
    this.v = new Float64Array(w.length);
  }
  step(grad: Float64Array): void {
    this.t++;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.w.length; i++) {
      this.m[i] = b1 * this.m[i]! + (1 - b1) * grad[i]!;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * grad[i]! * grad[i]!;
      this.w[i]! -= (this.lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + 1e-8);
    }
  }
}

/** Multinomial logistic regression, 120 full-batch Adam steps (lr 0.1), L2 1e-4. */
export function trainLogisticRegression(ds: Dataset, _seed: number, iters = 120): Classifier {
  const std = standardiser(ds);
  const z = std(ds.x, ds.n);
  const { d, n } = ds;
  const K = ds.classes;
  const D = d + 1;
  const w = new Float64Array(D * K);
  const grad = new Float64Array(D * K);
  const opt = new Adam(w, 0.1);
  const s = new Float64Array(K);
  const scores = (zz: Float64Array, i: number): void => {
    for (let k = 0; k < K; k++) {
      let a = w[d * K + k]!;
      for (let j = 0; j < d; j++) a += zz[i * d + j]! * w[j * K + k]!;
      s[k] = a;
    }
  };
  for (let it = 0; it < iters; it++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      scores(z, i);
      let mx = -Infinity;
      for (let k = 0; k < K; k++) mx = Math.max(mx, s[k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += s[k] = Math.exp(s[k]! - mx);
      for (let k = 0; k < K; k++) {
        const e = s[k]! / sum - (ds.y[i] === k ? 1 : 0);
        for (let j = 0; j < d; j++) grad[j * K + k]! += (e * z[i * d + j]!) / n;
        grad[d * K + k]! += e / n;
      }
    }
    for (let j = 0; j < d * K; j++) grad[j]! += 1e-4 * w[j]!;
    opt.step(grad);
  }
  return {
    predict(x, m) {
      const zz = std(x, m);
      const out = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        scores(zz, i);
        out[i] = argmax(s);
      }
      return out;
    },
  };
}

/** One hidden ReLU layer (16 units), softmax output, mini-batch Adam. */
export function trainMlp(ds: Dataset, seed: number, epochs = 8, hidden = 16): Classifier {
  const std = standardiser(ds);
  const z = std(ds.x, ds.n);
  const { d, n } = ds;
  const K = ds.classes;
  const H = hidden;
  const r = Rng.forPurpose(seed, 'classifier/mlp/init');
  const batches = Rng.forPurpose(seed, 'classifier/mlp/batches');
  // Parameters packed in one vector: W1[d×H] b1[H] W2[H×K] b2[K].
  const oW1 = 0;
  const ob1 = d * H;
  const oW2 = ob1 + H;
  const ob2 = oW2 + H * K;
  const w = new Float64Array(ob2 + K);
  const s1 = Math.sqrt(2 / d);
  const s2 = Math.sqrt(2 / H);
  for (let i = 0; i < d * H; i++) w[oW1 + i] = (r.next() * 2 - 1) * s1;
  for (let i = 0; i < H * K; i++) w[oW2 + i] = (r.next() * 2 - 1) * s2;
  const grad = new Float64Array(w.length);
  const opt = new Adam(w, 0.01);
  const hAct = new Float64Array(H);
  const out = new Float64Array(K);
  const dh = new Float64Array(H);
  const forward = (zz: Float64Array, i: number): void => {
    for (let u = 0; u < H; u++) {
      let a = w[ob1 + u]!;
      for (let j = 0; j < d; j++) a += zz[i * d + j]! * w[oW1 + j * H + u]!;
      hAct[u] = a > 0 ? a : 0;
    }
    for (let k = 0; k < K; k++) {
      let a = w[ob2 + k]!;
      for (let u = 0; u < H; u++) a += hAct[u]! * w[oW2 + u * K + k]!;
      out[k] = a;
    }
  };
  const order = allRows(n);
  const batch = 64;
  for (let ep = 0; ep < epochs; ep++) {
    batches.shuffle(order);
    for (let b0 = 0; b0 < n; b0 += batch) {
      const b1 = Math.min(n, b0 + batch);
      grad.fill(0);
      for (let q = b0; q < b1; q++) {
        const i = order[q]!;
        forward(z, i);
        let mx = -Infinity;
        for (let k = 0; k < K; k++) mx = Math.max(mx, out[k]!);
        let sum = 0;
        for (let k = 0; k < K; k++) sum += out[k] = Math.exp(out[k]! - mx);
        dh.fill(0);
        const m = b1 - b0;
        for (let k = 0; k < K; k++) {
          const e = (out[k]! / sum - (ds.y[i] === k ? 1 : 0)) / m;
          grad[ob2 + k]! += e;
          for (let u = 0; u < H; u++) {
            grad[oW2 + u * K + k]! += e * hAct[u]!;
            dh[u]! += e * w[oW2 + u * K + k]!;
          }
        }
        for (let u = 0; u < H; u++) {
          if (hAct[u]! <= 0) continue;
          grad[ob1 + u]! += dh[u]!;
          for (let j = 0; j < d; j++) grad[oW1 + j * H + u]! += dh[u]! * z[i * d + j]!;
        }
      }
      opt.step(grad);
    }
  }
  return {
    predict(x, m) {
      const zz = std(x, m);
      const pred = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        forward(zz, i);
        pred[i] = argmax(out);
      }
      return pred;
    },
  };
}

export function trainClassifier(name: ClassifierName, ds: Dataset, seed: number): Classifier {
  switch (name) {
    case 'decision_tree':
      return trainDecisionTree(ds, seed);
    case 'random_forest':
      return trainRandomForest(ds, seed);
    case 'gradient_boosting':
      return trainGradientBoosting(ds, seed);
    case 'logistic_regression':
      return trainLogisticRegression(ds, seed);
    case 'mlp':
      return trainMlp(ds, seed);
  }
}

/** Accuracy and balanced accuracy (mean per-class recall over classes present in `truth`). */
export function scorePredictions(truth: Int32Array, pred: Int32Array, classes: number): { accuracy: number; balancedAccuracy: number } {
  let ok = 0;
  const tp = new Float64Array(classes);
  const cnt = new Float64Array(classes);
  for (let i = 0; i < truth.length; i++) {
    cnt[truth[i]!]! += 1;
    if (truth[i] === pred[i]) {
      ok++;
      tp[truth[i]!]! += 1;
    }
  }
  let rsum = 0;
  let present = 0;
  for (let k = 0; k < classes; k++)
    if (cnt[k]! > 0) {
      rsum += tp[k]! / cnt[k]!;
      present++;
    }
  return { accuracy: truth.length ? ok / truth.length : Number.NaN, balancedAccuracy: present ? rsum / present : Number.NaN };
}
