// Sketches, classifiers and privacy checks on small inputs whose answers are known by construction.
import { describe, expect, it } from 'vitest';
import { CountMin, CountSketch, SpaceSaving, heavyHitterErrors } from '../../src/eval/sketches.js';
import { CLASSIFIERS, scorePredictions, trainClassifier } from '../../src/eval/classifiers.js';
import { privacyChecks } from '../../src/eval/privacy.js';
import { classificationTask } from '../../src/eval/downstream.js';
import { indexFlows } from '../../src/eval/flows.js';
import { takeRows } from '../../src/io/rows.js';
import { makeFlows, makePackets, testRng as rng } from './helpers.js';

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
      const exact = new Float64Array(500);
      for (const k of keys) exact[k]! += 1;
      const k = 32;
      const ss = new SpaceSaving(k, 500);
      ss.addAll(keys, n);
      let sum = 0;
      for (let key = 0; key < 500; key++) {
        const est = ss.estimate(key);
        sum += est;
        if (est > 0) {
          expect(est).toBeGreaterThanOrEqual(exact[key]!);
          expect(est).toBeLessThanOrEqual(exact[key]! + n / k);
        }
        if (exact[key]! > n / k) expect(est).toBeGreaterThan(0);
      }
      expect(sum).toBe(n);
    }
  });
  it('suite errors shrink as memory grows on a real-shaped trace', () => {
    const errs = heavyHitterErrors(indexFlows(makePackets(3000, 4)), 50);
    expect(errs.length).toBe(9);
    const cm = errs.filter((e) => e.sketch.startsWith('count-min')).map((e) => e.meanRelativeError);
    expect(cm[0]!).toBeGreaterThanOrEqual(cm[2]!);
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
