// Sketches, classifiers and privacy checks on small inputs whose answers are known by construction.
import { describe, expect, it } from 'vitest';
import { CountMin, CountSketch, SpaceSaving, heavyHitterErrors, sketchWeights } from '../../src/eval/sketches.js';
import { CLASSIFIERS, scorePredictions, trainClassifier } from '../../src/eval/classifiers.js';
import { privacyChecks } from '../../src/eval/privacy.js';
import { MIN_TEST_PER_CLASS, classificationTask, heavyHitterTask } from '../../src/eval/downstream.js';
import { makeBaseline } from '../../src/eval/baselines.js';
import { indexFlows } from '../../src/eval/flows.js';
import { takeRows } from '../../src/io/rows.js';
import { spearman } from '../../src/eval/stats.js';
import { makeFlows, makePackets, testRng as rng } from './helpers.js';

function spearmanOrNull(a: number[], b: number[]): number | null {
  const r = spearman(a, b);
  return Number.isFinite(r) ? r : null;
}

/**
 * Space-Saving's guarantees on keys 0..499 with 32 counters: counters sum to the total weight W, and every kept
 * key's estimate lies in [true, true + W/k], every key above W/k is kept. Returns the exact counts.
 */
function expectSpaceSavingGuarantee(keys: Int32Array, w?: Float64Array): Float64Array {
  const exact = new Float64Array(500);
  let total = 0;
  keys.forEach((key, i) => {
    exact[key]! += w ? w[i]! : 1;
    total += w ? w[i]! : 1;
  });
  const k = 32;
  const ss = new SpaceSaving(k, 500);
  if (w) ss.addAll(keys, keys.length, undefined, undefined, w);
  else ss.addAll(keys, keys.length);
  let sum = 0;
  for (let key = 0; key < 500; key++) {
    const est = ss.estimate(key);
    sum += est;
    if (est > 0) {
      expect(est).toBeGreaterThanOrEqual(exact[key]!);
      expect(est).toBeLessThanOrEqual(exact[key]! + total / k);
    }
    if (exact[key]! > total / k) expect(est).toBeGreaterThan(0);
  }
  expect(sum).toBe(total);
  return exact;
}

describe('sketches', () => {
  const stream = Int32Array.from({ length: 5000 }, (_, i) => (i % 4 === 0 ? 7 : i % 50)); // key 7 is heavy: > N/8, so Space-Saving with 8 counters must keep it
  const h1 = Uint32Array.from({ length: 64 }, (_, k) => Math.imul(k + 1, 0x9e3779b1) >>> 0);
  const h2 = Uint32Array.from({ length: 64 }, (_, k) => (Math.imul(k + 7, 0x85ebca6b) | 1) >>> 0);
  const truth = new Map<number, number>();
  for (const k of stream) truth.set(k, (truth.get(k) ?? 0) + 1);
  it('Count-Min never underestimates', () => {
    const cm = new CountMin(4, 16);
    cm.addAll(stream, stream.length, h1, h2);
    for (const [k, c] of truth) expect(cm.estimate(k, h1[k]!, h2[k]!)).toBeGreaterThanOrEqual(c);
  });
  it('Count Sketch is exact when every key has its own counter in some row majority', () => {
    const cs = new CountSketch(3, 4096);
    cs.addAll(stream, stream.length, h1, h2);
    for (const [k, c] of truth) expect(cs.estimate(k, h1[k]!, h2[k]!)).toBe(c);
  });
  it('Space-Saving is exact with enough counters and never underestimates a monitored key', () => {
    const big = new SpaceSaving(64, 64);
    big.addAll(stream, stream.length);
    for (const [k, c] of truth) expect(big.estimate(k)).toBe(c);
    const small = new SpaceSaving(8, 64);
    small.addAll(stream, stream.length);
    expect(small.estimate(7)).toBeGreaterThanOrEqual(truth.get(7)!);
  });
  it('Space-Saving keeps its guarantees on random skewed streams: counters sum to N, true ≤ est ≤ true + N/k', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const n = 20000;
      const keys = Int32Array.from({ length: n }, () => Math.floor(r() ** 3 * 500));
      expectSpaceSavingGuarantee(keys);
    }
  });
  it('suite errors shrink as memory grows on a real-shaped trace', () => {
    const errs = heavyHitterErrors(indexFlows(makePackets(3000, 4)), 50);
    expect(errs.length).toBe(9);
    const cm = errs.filter((e) => e.sketch.startsWith('count-min')).map((e) => e.meanRelativeError);
    expect(cm[0]!).toBeGreaterThanOrEqual(cm[2]!);
  });
});

describe('weighted sketches (NetFlow records count their packets)', () => {
  it('Space-Saving with weights: counters sum to the total weight, true ≤ est ≤ true + W/k, exact with room for every key', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const n = 20000;
      const keys = Int32Array.from({ length: n }, () => Math.floor(r() ** 3 * 500));
      const w = Float64Array.from({ length: n }, () => 1 + Math.floor(-Math.log(1 - r()) * 30));
      const exact = expectSpaceSavingGuarantee(keys, w);
      const big = new SpaceSaving(500, 500);
      big.addAll(keys, n, undefined, undefined, w);
      for (let key = 0; key < 500; key++) expect(big.estimate(key)).toBe(exact[key]);
    }
  });
  it('Count-Min and Count Sketch add the weight', () => {
    const keys = Int32Array.of(3, 3, 5);
    const w = Float64Array.of(10, 20, 7);
    const h1 = Uint32Array.from({ length: 8 }, (_, k) => Math.imul(k + 1, 0x9e3779b1) >>> 0);
    const h2 = Uint32Array.from({ length: 8 }, (_, k) => (Math.imul(k + 7, 0x85ebca6b) | 1) >>> 0);
    const cm = new CountMin(4, 1024);
    cm.addAll(keys, 3, h1, h2, w);
    const cs = new CountSketch(3, 4096);
    cs.addAll(keys, 3, h1, h2, w);
    for (const s of [cm, cs]) {
      expect(s.estimate(3, h1[3]!, h2[3]!)).toBe(30);
      expect(s.estimate(5, h1[5]!, h2[5]!)).toBe(7);
    }
  });
  it('NetFlow records weigh their pkt, packet records 1; the heavy hitters are the flows with the most packets', () => {
    const flows = makeFlows(4000, 1);
    expect(Array.from(sketchWeights(flows)!)).toEqual(Array.from(flows.pkt.subarray(0, flows.length)));
    expect(sketchWeights(makePackets(50, 1))).toBeUndefined();
    // one record of 10^6 packets is the heaviest flow: counted by records it would be one of thousands of 1-record flows
    const t = takeRows(flows, Int32Array.from({ length: flows.length }, (_, i) => i));
    t.pkt[0] = 1e6;
    const idx = indexFlows(t);
    const byRecords = heavyHitterErrors(idx, 1);
    const byPackets = heavyHitterErrors(idx, 1, undefined, sketchWeights(t));
    // Space-Saving at 8192 counters: the 10^6-packet flow is always monitored, so its relative error is ≈ 0
    expect(byPackets.at(-1)!.meanRelativeError).toBeLessThan(1e-3);
    expect(byPackets.map((e) => e.meanRelativeError)).not.toEqual(byRecords.map((e) => e.meanRelativeError));
  });
});

describe('heavy-hitter rank ordering per memory size', () => {
  it('one Spearman ρ per memory size over that size\'s three sketches, and their mean', () => {
    const real = makePackets(3000, 1);
    const r = heavyHitterTask(real, makeBaseline('marginals', real, 1));
    expect(r.weight).toBe('packets');
    expect(r.bySize.map((s) => s.counters)).toEqual([512, 2048, 8192]);
    for (const { counters, rankSpearman } of r.bySize) {
      const at = r.sketches.filter((s) => s.counters === counters);
      expect(at.map((s) => s.sketch.split(' ')[0])).toEqual(['count-min', 'count-sketch', 'space-saving']);
      expect(rankSpearman).toBe(spearmanOrNull(at.map((s) => s.realError), at.map((s) => s.synError)));
    }
    const defined = r.bySize.map((s) => s.rankSpearman).filter((x): x is number => x !== null);
    expect(r.rankSpearman).toBeCloseTo(defined.reduce((a, b) => a + b, 0) / defined.length, 12);
  });
  it('a trace compared with itself keeps every size\'s ranking (ρ = 1)', () => {
    const real = makeFlows(3000, 1);
    const r = heavyHitterTask(real, real);
    for (const s of r.bySize) expect(s.rankSpearman === null || s.rankSpearman === 1).toBe(true);
  });
});

describe('classifiers', () => {
  it('scores accuracy and balanced accuracy as worked out by hand', () => {
    expect(scorePredictions(Int32Array.of(0, 0, 1, 1), Int32Array.of(0, 1, 1, 1), 2)).toEqual({ accuracy: 0.75, balancedAccuracy: 0.75 });
    expect(scorePredictions(Int32Array.of(0, 0, 0, 1), Int32Array.of(0, 0, 0, 0), 2)).toEqual({ accuracy: 0.75, balancedAccuracy: 0.5 });
  });
  it('each classifier learns a separable rule and generalises to fresh rows', () => {
    const make = (n: number, seed: number): { x: Float64Array; y: Int32Array } => {
      const r = rng(seed);
      const x = Float64Array.from({ length: n * 4 }, () => r() * 10);
      const y = Int32Array.from({ length: n }, (_, i) => (x[i * 4]! + 2 * x[i * 4 + 1]! > 15 ? 1 : 0));
      return { x, y };
    };
    const tr = make(800, 1);
    const te = make(400, 2);
    for (const name of CLASSIFIERS) {
      const m = trainClassifier(name, { x: tr.x, y: tr.y, n: 800, d: 4, classes: 2 }, 3);
      expect(scorePredictions(te.y, m.predict(te.x, 400), 2).accuracy, name).toBeGreaterThan(0.85);
    }
  });
  it('classification task: real-trained and synthetic-trained scores on the same real test set', () => {
    const real = makeFlows(3000, 1);
    const res = classificationTask(real, makeFlows(3000, 2), { seed: 1, perClass: 300 });
    expect(res.status).toBe('ok');
    if (res.status === 'ok') {
      expect(res.classes).toEqual(['background', 'blacklist']);
      for (const s of res.scores) expect(s.realAccuracy).toBeGreaterThan(0.9); // dstport 6667 marks blacklist
    }
    const noType = takeRows(real, Int32Array.from({ length: 100 }, (_, i) => i));
    delete (noType as { type?: string[] }).type;
    expect(classificationTask(noType, noType, { seed: 1 })).toEqual({ status: 'skipped', reason: 'the real trace has no type/label column with at least 2 classes' });
  });
  it(`is skipped, with the reason, when the real test set holds fewer than ${MIN_TEST_PER_CLASS} records of a class`, () => {
    // a trace with 4 blacklist records: whatever the random 5-tuple split, its test half holds fewer than 5
    const real = makeFlows(3000, 1);
    let kept = 0;
    for (let i = 0; i < real.length; i++) if (real.type![i] === 'blacklist' && ++kept > 4) real.type![i] = 'background';
    const res = classificationTask(real, makeFlows(3000, 2), { seed: 1, perClass: 300 });
    expect(res.status).toBe('skipped');
    if (res.status === 'skipped') expect(res.reason).toMatch(/real test half hold fewer than 5 records of class blacklist \(\d\)/);
    // held-out test records: 3 blacklist ones are too few, whatever the training side holds
    const train = makeFlows(3000, 1);
    const test = makeFlows(300, 3);
    let b = 0;
    for (let i = 0; i < test.length; i++) if (test.type![i] === 'blacklist' && ++b > 3) test.type![i] = 'background';
    const held = classificationTask(train, makeFlows(3000, 2), { seed: 1, perClass: 300, test });
    expect(held).toEqual({ status: 'skipped', reason: 'the held-out real records hold fewer than 5 records of class blacklist (3); accuracy on so few would mean nothing' });
  });
  it('with held-out records: trains on every real record, tests on the held-out ones', () => {
    const train = makeFlows(3000, 1);
    const test = makeFlows(600, 3);
    const res = classificationTask(train, makeFlows(3000, 2), { seed: 1, perClass: 300, test });
    expect(res.status).toBe('ok');
    if (res.status === 'ok') {
      expect(res.testSource).toBe('holdout');
      expect(res.testRows).toBe(300 + 60); // 540 background (capped at 300) + 60 blacklist
      expect(res.trainRows.real).toBe(600); // 2700 background and 300 blacklist, each capped at 300
    }
    const split = classificationTask(train, makeFlows(3000, 2), { seed: 1, perClass: 300 });
    expect(split.status === 'ok' && split.testSource).toBe('flow-split');
  });
});

describe('privacy checks', () => {
  it('a verbatim copy shares every 5-tuple and IP and sits at distance 0; fresh addresses share none', () => {
    const train = makeFlows(2000, 1);
    const holdout = makeFlows(2000, 2);
    const copy = privacyChecks(train, train, { seed: 1, holdout })!;
    expect(copy.synthetic.tuplesCopied).toBe(1);
    expect(copy.synthetic.ipsCopied).toBe(1);
    expect(copy.dcr.synthetic.exact).toBeGreaterThan(0.99);
    const fresh = takeRows(train, Int32Array.from({ length: train.length }, (_, i) => i));
    for (let i = 0; i < fresh.length; i++) {
      fresh.srcIp[i] = (0x64000000 + i) >>> 0;
      fresh.dstIp[i] = (0x65000000 + i) >>> 0;
    }
    const f = privacyChecks(train, fresh, { seed: 1, holdout })!;
    expect(f.synthetic.tuplesCopied).toBe(0);
    expect(f.synthetic.ipsCopied).toBe(0);
    expect(f.dcr.synthetic.median).toBeGreaterThan(copy.dcr.synthetic.median);
  });
});
