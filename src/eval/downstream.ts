// Downstream tasks (spec §5.3): traffic-type classification trained on synthetic and tested on real
// (vs trained on real), and heavy-hitter estimation with sketches on real vs synthetic; both compared by
// accuracy/error and by whether the ranking of the candidate methods is preserved (Spearman).
import type { Table } from '../io/table.js';
import { CLASSIFIERS, scorePredictions, trainClassifier, type ClassifierName, type Dataset } from './classifiers.js';
import { indexFlows, type FlowIndex } from './flows.js';
import { heavyHitterErrors, sketchWeights, type SketchResult } from './sketches.js';
import { spearman } from './stats.js';
import { Rng } from '../core/rng.js';

export interface ClassifierScore {
  classifier: ClassifierName;
  /** Trained on the real training records, tested on the real test set. */
  realAccuracy: number;
  realBalancedAccuracy: number;
  /** Trained on the synthetic trace, tested on the same real test set. */
  synAccuracy: number;
  synBalancedAccuracy: number;
}

/**
 * Fewest real test records of every class for the task to run: with fewer, a class's recall (and so balanced
 * accuracy) rests on a handful of records, and a class absent from the test set makes balanced accuracy the mean
 * over the classes that happen to be there (0.5 for a one-class test set and a constant classifier). Below it the
 * task is `skipped` with the reason, never reported.
 */
export const MIN_TEST_PER_CLASS = 5;

/**
 * Where the real test set comes from: `holdout`, the held-out real records (never trained on: `run`'s held-out
 * flows, `eval --holdout`), with every real record as the real training side; `flow-split`, a random half of the
 * real 5-tuples, the other half being the real training side.
 */
export type TestSource = 'holdout' | 'flow-split';

export type ClassificationResult =
  | {
      status: 'ok';
      /** Which column was predicted (`type`, else `label`). */
      target: string;
      classes: string[];
      testSource: TestSource;
      trainRows: { real: number; synthetic: number };
      testRows: number;
      scores: ClassifierScore[];
      /** Spearman ρ between the classifiers' accuracies trained on real and on synthetic. */
      rankSpearman: number | null;
    }
  | { status: 'skipped'; reason: string };

/** Column with the class of each record: `type` (NetShare's traffic type) if it varies, else `label`. */
function targetColumn(t: Table): { name: string; values: string[] } | null {
  for (const name of ['type', 'label'] as const) {
    const col = (t as { type?: string[]; label?: string[] })[name];
    if (col && col.length === t.length && new Set(col).size >= 2) return { name, values: col };
  }
  return null;
}

/** Flow-level feature vector of a record: protocol, ports, log sizes/duration, mean packet size, IP octets. */
export const FEATURE_NAMES = ['proto', 'srcport', 'dstport', 'log_td', 'log_pkt', 'log_byt', 'log_bpp', 'sip0', 'sip1', 'sip2', 'sip3', 'dip0', 'dip1', 'dip2', 'dip3'];

function features(t: Table, rows: Int32Array): Float64Array {
  const d = FEATURE_NAMES.length;
  const x = new Float64Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    let td = 0;
    let pkt = 1;
    let byt = 0;
    if (t.kind === 'flows') {
      td = t.td[i]!;
      pkt = t.pkt[i]!;
      byt = t.byt[i]!;
    } else {
      byt = t.pktLen[i]!;
    }
    const s = t.srcIp[i]!;
    const dd = t.dstIp[i]!;
    x.set(
      [t.proto[i]!, t.srcPort[i]!, t.dstPort[i]!, Math.log1p(Math.max(0, td)), Math.log1p(Math.max(0, pkt)), Math.log1p(Math.max(0, byt)), Math.log1p(Math.max(0, byt) / Math.max(1, pkt)), s >>> 24, (s >>> 16) & 255, (s >>> 8) & 255, s & 255, dd >>> 24, (dd >>> 16) & 255, (dd >>> 8) & 255, dd & 255],
      r * d,
    );
  }
  return x;
}

/** Up to `perClass` rows of each class (seeded), so rare classes (UGR16's blacklist) are represented. */
function stratified(values: string[], rows: ArrayLike<number>, classes: Map<string, number>, perClass: number, r: Rng): Int32Array {
  const by = new Map<number, number[]>();
  for (let k = 0; k < rows.length; k++) {
    const c = classes.get(values[rows[k]!]!);
    if (c === undefined) continue;
    let a = by.get(c);
    if (!a) by.set(c, (a = []));
    a.push(rows[k]!);
  }
  const out: number[] = [];
  for (const a of by.values()) {
    for (let i = 0; i < Math.min(perClass, a.length); i++) {
      const j = i + r.int(a.length - i);
      [a[i], a[j]] = [a[j]!, a[i]!];
      out.push(a[i]!);
    }
  }
  return Int32Array.from(out);
}

export interface ClassificationOptions {
  seed: number;
  /** Cap per class for the training and test samples (default 1000). */
  perClass?: number;
  classifiers?: readonly ClassifierName[];
  /** The real trace's flow index, when already computed. */
  flowIndex?: FlowIndex;
  /** Held-out real records to test on (then every real record is training); default: a random half of the real 5-tuples. */
  test?: Table;
}

/** The real side of the classification task, prepared once and reused for every synthetic trace / baseline. */
export interface ClassificationContext {
  real: Table;
  /** The table `realTest` indexes: the held-out records, or `real`. */
  testTable: Table;
  testSource: TestSource;
  target: { name: string; values: string[] };
  classNames: string[];
  classes: Map<string, number>;
  realTrain: Int32Array;
  realTest: Int32Array;
  xTest: Float64Array;
  yTest: Int32Array;
  /** Scores of each classifier trained on the real training half. */
  realScores: Map<ClassifierName, { accuracy: number; balancedAccuracy: number }>;
  opts: ClassificationOptions;
}

/**
 * Choose the real training and test records (the held-out records when given, else a random 5-tuple split), train
 * every classifier on the real side; a skip reason when the task cannot run, including a test set with fewer than
 * MIN_TEST_PER_CLASS records of some class.
 */
export function prepareClassification(real: Table, opts: ClassificationOptions): ClassificationContext | { status: 'skipped'; reason: string } {
  const tr = targetColumn(real);
  if (!tr) return { status: 'skipped', reason: 'the real trace has no type/label column with at least 2 classes' };
  const perClass = opts.perClass ?? 1000;
  let testTable: Table = real;
  let testValues = tr.values;
  const trainRows: number[] = [];
  const testRows: number[] = [];
  if (opts.test) {
    const col = (opts.test as { type?: string[]; label?: string[] })[tr.name as 'type' | 'label'];
    if (!col || col.length !== opts.test.length) return { status: 'skipped', reason: `the held-out real records have no ${tr.name} column` };
    testTable = opts.test;
    testValues = col;
    for (let i = 0; i < real.length; i++) trainRows.push(i);
    for (let i = 0; i < opts.test.length; i++) testRows.push(i);
  } else {
    // Real split by 5-tuple so a flow's records never sit on both sides.
    const idx = opts.flowIndex ?? indexFlows(real);
    const r = Rng.forPurpose(opts.seed, 'downstream/split');
    const side = new Uint8Array(idx.count);
    for (let f = 0; f < idx.count; f++) side[f] = r.next() < 0.5 ? 0 : 1;
    for (let i = 0; i < real.length; i++) (side[idx.flowOf[i]!] === 0 ? trainRows : testRows).push(i);
  }
  const classNames = [...new Set([...tr.values, ...(testTable === real ? [] : testValues)])].sort();
  const classes = new Map(classNames.map((c, i) => [c, i]));
  const realTrain = stratified(tr.values, trainRows, classes, perClass, Rng.forPurpose(opts.seed, 'downstream/sample/real-train'));
  const realTest = stratified(testValues, testRows, classes, perClass, Rng.forPurpose(opts.seed, 'downstream/sample/real-test'));
  if (realTest.length === 0 || realTrain.length === 0) return { status: 'skipped', reason: 'too few real records to split into train and test' };
  const perTest = new Map<string, number>(classNames.map((c) => [c, 0]));
  for (const i of realTest) perTest.set(testValues[i]!, perTest.get(testValues[i]!)! + 1);
  const few = classNames.filter((c) => perTest.get(c)! < MIN_TEST_PER_CLASS);
  if (few.length > 0) {
    const where = opts.test ? 'held-out real records' : 'real test half';
    return {
      status: 'skipped',
      reason: `the ${where} hold fewer than ${MIN_TEST_PER_CLASS} records of class ${few.map((c) => `${c} (${perTest.get(c)})`).join(', ')}; accuracy on so few would mean nothing`,
    };
  }
  const xTest = features(testTable, realTest);
  const yTest = Int32Array.from(realTest, (i) => classes.get(testValues[i]!)!);
  const dReal = dataset(real, tr.values, realTrain, classes);
  const realScores = new Map<ClassifierName, { accuracy: number; balancedAccuracy: number }>();
  for (const name of opts.classifiers ?? CLASSIFIERS) {
    realScores.set(name, scorePredictions(yTest, trainClassifier(name, dReal, opts.seed).predict(xTest, realTest.length), classNames.length));
  }
  return { real, testTable, testSource: opts.test ? 'holdout' : 'flow-split', target: tr, classNames, classes, realTrain, realTest, xTest, yTest, realScores, opts };
}

function dataset(t: Table, vals: string[], rows: Int32Array, classes: Map<string, number>): Dataset {
  return {
    x: features(t, rows),
    y: Int32Array.from(rows, (i) => classes.get(vals[i]!)!),
    n: rows.length,
    d: FEATURE_NAMES.length,
    classes: classes.size,
  };
}

/**
 * Train each classifier on synthetic records and on the real training records, test both on the same real test
 * set: the held-out records (`opts.test`), else the other half of a random 5-tuple split. Samples are
 * class-stratified (≤ perClass rows per class, default 1000) so accuracy is measured on a class-balanced test set;
 * balanced accuracy is reported too.
 */
export function classificationTask(real: Table, syn: Table, opts: ClassificationOptions): ClassificationResult {
  const ctx = prepareClassification(real, opts);
  return 'status' in ctx ? ctx : classifySynthetic(ctx, syn);
}

/** The synthetic side of the task against a prepared real context. */
export function classifySynthetic(ctx: ClassificationContext, syn: Table): ClassificationResult {
  const { opts, classes, classNames, target: tr } = ctx;
  const synCol = (syn as { type?: string[]; label?: string[] })[tr.name as 'type' | 'label'];
  if (!synCol || synCol.length !== syn.length) return { status: 'skipped', reason: `the synthetic trace has no ${tr.name} column` };
  const allSyn = new Int32Array(syn.length);
  for (let i = 0; i < syn.length; i++) allSyn[i] = i;
  const synTrain = stratified(synCol, allSyn, classes, opts.perClass ?? 1000, Rng.forPurpose(opts.seed, 'downstream/sample/synthetic'));
  if (synTrain.length === 0) return { status: 'skipped', reason: `no synthetic record carries one of the real classes (${classNames.join(', ')})` };
  const dSyn = dataset(syn, synCol, synTrain, classes);
  const scores: ClassifierScore[] = [];
  for (const [name, a] of ctx.realScores) {
    const b = scorePredictions(ctx.yTest, trainClassifier(name, dSyn, opts.seed).predict(ctx.xTest, ctx.realTest.length), classNames.length);
    scores.push({ classifier: name, realAccuracy: a.accuracy, realBalancedAccuracy: a.balancedAccuracy, synAccuracy: b.accuracy, synBalancedAccuracy: b.balancedAccuracy });
  }
  const realTrain = ctx.realTrain;
  const realTest = ctx.realTest;
  const rho = spearman(
    scores.map((s) => s.realAccuracy),
    scores.map((s) => s.synAccuracy),
  );
  return {
    status: 'ok',
    target: tr.name,
    classes: classNames,
    testSource: ctx.testSource,
    trainRows: { real: realTrain.length, synthetic: synTrain.length },
    testRows: realTest.length,
    scores,
    rankSpearman: Number.isFinite(rho) ? rho : null,
  };
}

export interface SketchComparison {
  sketch: string;
  /** Memory of the configuration, in counters. */
  counters: number;
  realError: number;
  synError: number;
  /** |syn − real| / real (null when real error is 0). */
  relativeDifference: number | null;
}

export interface HeavyHitterResult {
  topK: number;
  /** What a record adds to its 5-tuple's count: 1 per packet record, `pkt` per NetFlow record. */
  weight: 'packets';
  sketches: SketchComparison[];
  /**
   * Per memory size: Spearman ρ between the errors of the sketches of that size on real and on synthetic (is the
   * ranking of the candidate sketches preserved?); null when a side's errors are all equal.
   */
  bySize: { counters: number; rankSpearman: number | null }[];
  /** Mean of bySize's defined ρ (null when none is). */
  rankSpearman: number | null;
}

/**
 * Heavy-hitter error of each sketch on the real and on the synthetic trace (key = 5-tuple, count = packets: see
 * sketchWeights), and whether each memory size ranks its sketches alike on both. The ranking is compared within a
 * size only: pooled across sizes, the errors' order is set by memory (more counters, less error on any trace), so
 * even a trace with no real 5-tuple structure would score a high ρ.
 * `real` may be the real trace's precomputed `heavyHitterErrors` (computed once for several synthetic traces).
 */
export function heavyHitterTask(real: Table | SketchResult[], syn: Table, topK = 100, synIndex?: FlowIndex): HeavyHitterResult {
  const a: SketchResult[] = Array.isArray(real) ? real : heavyHitterErrors(indexFlows(real), topK, undefined, sketchWeights(real));
  const b: SketchResult[] = heavyHitterErrors(synIndex ?? indexFlows(syn), topK, undefined, sketchWeights(syn));
  const sketches = a.map((x, i) => ({
    sketch: x.sketch,
    counters: x.counters,
    realError: x.meanRelativeError,
    synError: b[i]!.meanRelativeError,
    relativeDifference: x.meanRelativeError > 0 ? Math.abs(b[i]!.meanRelativeError - x.meanRelativeError) / x.meanRelativeError : null,
  }));
  const sizes = [...new Set(sketches.map((s) => s.counters))];
  const bySize = sizes.map((counters) => {
    const at = sketches.filter((s) => s.counters === counters);
    const rho = spearman(
      at.map((s) => s.realError),
      at.map((s) => s.synError),
    );
    return { counters, rankSpearman: Number.isFinite(rho) ? rho : null };
  });
  const defined = bySize.map((s) => s.rankSpearman).filter((r): r is number => r !== null);
  return { topK, weight: 'packets', sketches, bySize, rankSpearman: defined.length ? defined.reduce((x, y) => x + y, 0) / defined.length : null };
}
