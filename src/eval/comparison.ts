// Equal-size comparison: every method against real samples of the same size, averaged over K random flow splits,
// and the floor (two disjoint real samples of that size) over the same splits and over the time split.
import { Rng } from '../core/rng.js';
import { compareProfiles, metricsFor, type Profile, type ProfileSource } from './fidelity.js';
import { comparisonSize, flowSplitDraw, summariseDraws, timeHalves, timeSplitDraw, type Spread } from './floor.js';
import type { JsVariant } from './stats.js';

/** How the comparison was made (EvalResult.comparison). */
export interface ComparisonPlan {
  /** Samples are whole 5-tuple flows (a flow is never cut), for packets and NetFlow alike. */
  unit: 'flows';
  /** Flows per sample: min(synthetic flows, ⌊real flows / 2⌋); 0 when the real trace has one flow (no floor). */
  size: number;
  /** Random flow splits the floor and every method's metrics are averaged over (K, `--floor-splits`). */
  floorSplits: number;
  /** Draws of the time split: 1 when both time halves are used whole (each draw would be the same), else K. */
  timeDraws: number;
  /** The floor the ratios, the headline and the report's colours use. */
  ratioSplit: 'flows';
}

export interface ComparedSide {
  /** Names the side's subsample stream (`floor/sample/<name>/<k>`). */
  name: string;
  source: ProfileSource;
  /** The side's whole-trace profile (used as is when the side is not larger than the comparison size). */
  whole: Profile;
}

export interface EqualSizeResult {
  plan: ComparisonPlan;
  floors: { flows: Record<string, Spread | null>; time: Record<string, Spread | null> };
  /** Per side, in order: each metric against the real sample of every draw, mean and spread; flows compared. */
  sides: { metrics: Record<string, Spread | null>; flows: number }[];
}

export interface EqualSizeOptions {
  seed: number;
  splits: number;
  variant: JsVariant;
}

/**
 * Draw k (k < K): two disjoint real samples A_k, B_k of n flows (stream `floor/split/<k>`); floor_k = metrics(A_k,
 * B_k); each side larger than n is subsampled to n flows (stream `floor/sample/<name>/<k>`) and compared with A_k. The
 * time floor compares the early and the late half of the real flows (by first-record time), each subsampled to n
 * (stream `floor/time/<k>`) unless n is the whole half. The comparison size is set by `sides[0]` (the synthetic trace).
 */
export function compareAtEqualSize(real: ProfileSource, sides: readonly ComparedSide[], opts: EqualSizeOptions): EqualSizeResult {
  const names = metricsFor(real.kind).map((m) => m.name);
  const n = comparisonSize(real.flows, sides[0]?.source.flows ?? 0);
  const halves = timeHalves(real.flowStarts());
  const timeDraws = n === 0 ? 0 : n >= halves[0].length ? 1 : opts.splits;
  const plan: ComparisonPlan = { unit: 'flows', size: n, floorSplits: n === 0 ? 0 : opts.splits, timeDraws, ratioSplit: 'flows' };
  const flowFloor: Record<string, number | null>[] = [];
  const timeFloor: Record<string, number | null>[] = [];
  const sideDraws: Record<string, number | null>[][] = sides.map(() => []);
  if (n > 0) {
    for (let k = 0; k < opts.splits; k++) {
      const [a, b] = flowSplitDraw(real.flows, n, opts.seed, k);
      const pa = real.profile(a);
      flowFloor.push(compareProfiles(pa, real.profile(b), opts.variant));
      sides.forEach((s, i) => {
        const ps = s.source.flows > n ? s.source.profile(Rng.forPurpose(opts.seed, `floor/sample/${s.name}/${k}`).sampleIndices(s.source.flows, n)) : s.whole;
        sideDraws[i]!.push(compareProfiles(pa, ps, opts.variant));
      });
    }
    for (let k = 0; k < timeDraws; k++) {
      const [e, l] = timeSplitDraw(halves, n, opts.seed, k);
      timeFloor.push(compareProfiles(real.profile(e), real.profile(l), opts.variant));
    }
  }
  return {
    plan,
    floors: { flows: summariseDraws(flowFloor, names), time: summariseDraws(timeFloor, names) },
    sides: sides.map((s, i) => ({ metrics: summariseDraws(sideDraws[i]!, names), flows: Math.min(n, s.source.flows) })),
  };
}
