// DP-SGD's randomness (Poisson sampling, Gaussian noise) from node:crypto, and the privacy ledger of a DP training run.
import { randomFillSync } from 'node:crypto';
import { ConfigError, InternalError } from '../errors.js';
import { Rng } from '../core/rng.js';
import { NETSHARE_RDP_ORDERS, RdpAccountant, noiseMultiplierFor, type RdpEntry } from './dp-accountant.js';

/**
 * Where DP-SGD draws its batches and noise. The privacy analysis needs both secret: a batch chosen by a seeded
 * generator whose seed is in the config is known to an attacker (no amplification by subsampling), and noise from it
 * could be subtracted. So they come from node:crypto, never from the seeded streams a checkpoint saves; DP runs are
 * therefore not bit-reproducible. `seededDpRandomForTests` exists for deterministic tests and refuses to run elsewhere.
 */
export interface DpRandom {
  readonly kind: 'crypto' | 'seeded-test-only';
  /** `n` uniforms in (0, 1) with 53 random bits each. */
  uniforms(n: number): Float64Array;
  /** `n` standard normals (Box–Muller on 53-bit uniforms: tails reach ≈ 8.6σ). */
  normals(n: number): Float32Array;
}

class CryptoDpRandom implements DpRandom {
  readonly kind = 'crypto' as const;
  private buf = new Uint32Array(0);

  uniforms(n: number): Float64Array {
    if (this.buf.length < 2 * n) this.buf = new Uint32Array(Math.max(2 * n, 1024));
    randomFillSync(this.buf, 0, 2 * n);
    const out = new Float64Array(n);
    const b = this.buf;
    // (27 bits · 2²⁶ + 26 bits + 0.5) / 2⁵³: never 0 or 1
    for (let i = 0; i < n; i++) out[i] = ((b[2 * i]! >>> 5) * 67108864 + (b[2 * i + 1]! >>> 6) + 0.5) / 9007199254740992;
    return out;
  }

  normals(n: number): Float32Array {
    return boxMuller(this.uniforms(n + (n % 2)), n);
  }
}

function boxMuller(u: Float64Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u[i]!));
    const th = 2 * Math.PI * u[i + 1]!;
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

class SeededDpRandom implements DpRandom {
  readonly kind = 'seeded-test-only' as const;
  constructor(private readonly rng: Rng) {}

  uniforms(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.rng.next() * (2 ** 32 - 1) + 0.5) / 2 ** 32;
    return out;
  }

  normals(n: number): Float32Array {
    return boxMuller(this.uniforms(n + (n % 2)), n);
  }
}

/** The DP randomness of real runs. */
export function cryptoDpRandom(): DpRandom {
  return new CryptoDpRandom();
}

/** Deterministic DP randomness for tests only: refuses unless running under vitest (VITEST is set). */
export function seededDpRandomForTests(seed: number): DpRandom {
  if (!process.env['VITEST']) {
    throw new ConfigError('seeded DP randomness is for tests only (its batches and noise are predictable, so the model would not be private); DP runs draw from node:crypto', 'dp.random');
  }
  return new SeededDpRandom(Rng.forPurpose(seed, 'test/dp'));
}

/**
 * Poisson subsampling: each of `n` examples is in the batch independently with probability q (what the sampled
 * Gaussian mechanism's accountant assumes). Drawn by geometric gaps between members (≈ q·n uniforms, same law).
 */
export function poissonSample(n: number, q: number, rnd: DpRandom): number[] {
  if (!(q > 0 && q <= 1)) throw new InternalError(`poissonSample: q must be in (0, 1], got ${q}`);
  if (q === 1) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  const logq = Math.log1p(-q);
  let i = -1;
  for (;;) {
    const u = rnd.uniforms(1)[0]!;
    i += 1 + Math.floor(Math.log(u) / logq);
    if (i >= n) return out;
    out.push(i);
  }
}

/** What one chunk's DP training consumes: critic steps at a sampling rate. */
export interface DpChunkPlan {
  chunk: number;
  /** Flows (examples) in the chunk. */
  flows: number;
  /** Poisson rate q = min(1, batchSize / flows). */
  q: number;
  /** Expected batch size q·flows (the DP mean's denominator). */
  expectedBatch: number;
  /** Critic steps = iterations × dRounds (each draws its own Poisson sample). */
  steps: number;
}

/** Version of the ledger's σ allocation (2: σ per chunk from a target ε; 1: one σ for every chunk). */
export const DP_LEDGER_VERSION = 2;

/** A chunk's plan with the noise multiplier it trains with. */
export interface DpChunkLedger extends DpChunkPlan {
  /** σ of this chunk's critic steps (per chunk: see dpLedger). */
  noiseMultiplier: number;
  /** ε (at the run's δ) of this chunk's critic steps alone, before composition with the other chunks and the counts. */
  epsilonAlone: number;
}

/** The ledger a DP run reports (manifest, CLI, report). */
export interface DpLedger {
  epsilon: number;
  delta: number;
  /** The RDP order at which ε was reached. */
  order: number;
  clip: number;
  countNoise: number;
  /** How ε was obtained: 'epsilon' = σ per chunk derived from the target ε; 'noiseMultiplier' = ε derived from one given σ. */
  given: 'epsilon' | 'noiseMultiplier';
  targetEpsilon?: number;
  /** `given: 'noiseMultiplier'`: the σ every chunk trains with. */
  noiseMultiplier?: number;
  /** `given: 'epsilon'`: the per-chunk ε share every chunk's σ was chosen for (each chunk's critics alone reach it). */
  shareEpsilon?: number;
  /** Per chunk: flows, q, steps and its own σ. */
  chunks: DpChunkLedger[];
  /** Every composed mechanism (RDP summed over all of them). */
  mechanisms: RdpEntry[];
  composition: string;
}

export const DP_COMPOSITION =
  'RDP of the Poisson-subsampled Gaussian mechanism (orders ' + `${NETSHARE_RDP_ORDERS[0]}…${NETSHARE_RDP_ORDERS.at(-1)}` + '), summed over: ' +
  'every critic step of every chunk at that chunk\'s own q and σ (iterations × dRounds per chunk, each on its own Poisson sample; the feature critic and the ' +
  'attribute critic are clipped jointly to C as one vector, so one step of both is one sampled Gaussian mechanism with sensitivity C and noise σ·C), ' +
  'and one Gaussian mechanism (q = 1, sensitivity 1 flow, noise countNoise) per chunk for the released flow count; ' +
  'summing over chunks is the sequential composition (valid whatever the chunks share, a model fine-tuned from another chunk\'s included); ' +
  'converted to (ε, δ) with the RDP→DP conversion of tensorflow/privacy (ε = min over orders of rdp − log δ/(α − 1)). ' +
  'With a target ε, each chunk gets its own σ: the smallest for which its critic steps alone cost a common share ε_c, with ε_c the largest whose ' +
  'composition over all chunks and counts stays within the target (so a small chunk, whose q is large, pays for its own steps with more noise ' +
  'instead of raising every chunk\'s σ). ' +
  'Unit of privacy: adding or removing one 5-tuple flow with all its records. Such a flow is one example in each chunk it appears in ' +
  '(its flow tags are its own attributes) and changes each of those chunks\' flow count by 1, and the sum covers every chunk. ' +
  'Changing only some records of a flow (e.g. one packet) replaces an example instead: by group privacy, at most (2ε, (1 + e^ε)·δ).';

function mechanisms(chunks: readonly DpChunkPlan[], sigmas: readonly number[], countNoise: number): RdpEntry[] {
  const out: RdpEntry[] = [];
  chunks.forEach((c, i) => {
    out.push({ label: `chunk ${c.chunk}: critics (feature + attribute, jointly clipped)`, q: c.q, sigma: sigmas[i]!, steps: c.steps });
    out.push({ label: `chunk ${c.chunk}: noisy flow count`, q: 1, sigma: countNoise, steps: 1 });
  });
  return out;
}

/** The per-chunk plan: q = min(1, batch/flows), steps = iterations × dRounds. */
export function dpChunkPlan(chunk: number, flows: number, batchSize: number, iterations: number, dRounds: number): DpChunkPlan {
  if (!(flows >= 1)) throw new ConfigError(`chunk ${chunk} has no flows to train on with DP`, 'global.dp');
  const q = Math.min(1, batchSize / flows);
  return { chunk, flows, q, expectedBatch: q * flows, steps: iterations * dRounds };
}

/** Largest σ the per-chunk search tries: a chunk needing more noise than this for its share cannot be trained usefully. */
const MAX_SIGMA = 1e6;

/**
 * σ per chunk for a target ε (see DP_COMPOSITION): bisection on the common per-chunk share ε_c in (0, target]; for a
 * given ε_c each chunk's σ is the smallest whose critic steps alone reach ε_c (noiseMultiplierFor on that chunk), and
 * the composition of every chunk's steps and every count must stay within the target. Chunks with the same q and steps
 * get the same σ. The result is the last ε_c (to 0.1% relative) whose composition is within the target.
 */
function perChunkSigmas(chunks: readonly DpChunkPlan[], target: number, delta: number, counts: readonly RdpEntry[]): { sigmas: number[]; share: number } {
  const memo = new Map<string, number>();
  const sigmasAt = (share: number): number[] =>
    chunks.map((c) => {
      const key = `${c.q}/${c.steps}/${share}`;
      let s = memo.get(key);
      if (s === undefined) {
        try {
          s = noiseMultiplierFor(share, delta, [{ q: c.q, steps: c.steps }], NETSHARE_RDP_ORDERS, [], MAX_SIGMA);
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
          throw new ConfigError(
            `the target ε = ${target} leaves each of the ${chunks.length} chunks' critics a share ε_c = ${share.toPrecision(3)}, which no noise multiplier up to ${MAX_SIGMA} reaches at δ = ${delta} ` +
              '(the flow counts take most of the budget): raise ε or global.dp.countNoise, or use fewer chunks',
            'global.dp.epsilon',
          );
        }
        memo.set(key, s);
      }
      return s;
    });
  const total = (sigmas: readonly number[]): number => {
    const acc = new RdpAccountant();
    for (const m of counts) acc.compose(m);
    chunks.forEach((c, i) => acc.compose({ label: '', q: c.q, sigma: sigmas[i]!, steps: c.steps }));
    return acc.epsilon(delta).epsilon;
  };
  let hi = target;
  let hiSigmas = sigmasAt(hi);
  if (total(hiSigmas) <= target) return { sigmas: hiSigmas, share: hi };
  let lo = hi / 2;
  let loSigmas = sigmasAt(lo);
  while (total(loSigmas) > target) {
    hi = lo;
    hiSigmas = loSigmas;
    lo /= 2;
    loSigmas = sigmasAt(lo);
  }
  while ((hi - lo) / hi > 1e-3) {
    const mid = (lo + hi) / 2;
    const s = sigmasAt(mid);
    if (total(s) <= target) {
      lo = mid;
      loSigmas = s;
    } else hi = mid;
  }
  return { sigmas: loSigmas, share: lo };
}

/**
 * Resolves σ per chunk (from a target ε: perChunkSigmas) or ε (from one σ for every chunk) over the whole run's
 * composition. Throws a ConfigError when the flow-count releases alone exceed the target ε.
 */
export function dpLedger(
  chunks: readonly DpChunkPlan[],
  opts: { clip: number; delta: number; countNoise: number } & ({ epsilon: number; noiseMultiplier?: undefined } | { noiseMultiplier: number; epsilon?: undefined }),
): DpLedger {
  const counts = mechanisms(chunks, chunks.map(() => 1), opts.countNoise).filter((m) => m.label.endsWith('flow count'));
  let sigmas: number[];
  let share: number | undefined;
  if (opts.epsilon !== undefined) {
    const fixed = new RdpAccountant();
    for (const m of counts) fixed.compose(m);
    const floor = fixed.epsilon(opts.delta).epsilon;
    if (floor >= opts.epsilon) {
      throw new ConfigError(
        `the noisy flow counts alone cost ε = ${floor.toPrecision(4)} at δ = ${opts.delta} (${chunks.length} chunks, count noise ${opts.countNoise}), above the target ε = ${opts.epsilon}: raise global.dp.countNoise or ε`,
        'global.dp.epsilon',
      );
    }
    ({ sigmas, share } = perChunkSigmas(chunks, opts.epsilon, opts.delta, counts));
  } else {
    sigmas = chunks.map(() => opts.noiseMultiplier);
  }
  const acc = new RdpAccountant();
  const mech = mechanisms(chunks, sigmas, opts.countNoise);
  for (const m of mech) if (m.sigma > 0) acc.compose(m);
  const e = sigmas.every((s) => s > 0) ? acc.epsilon(opts.delta) : { epsilon: Infinity, order: NaN };
  const alone = (c: DpChunkPlan, sigma: number): number => (sigma > 0 ? new RdpAccountant().compose({ label: '', q: c.q, sigma, steps: c.steps }).epsilon(opts.delta).epsilon : Infinity);
  return {
    epsilon: e.epsilon,
    delta: opts.delta,
    order: e.order,
    clip: opts.clip,
    countNoise: opts.countNoise,
    given: opts.epsilon !== undefined ? 'epsilon' : 'noiseMultiplier',
    ...(opts.epsilon !== undefined ? { targetEpsilon: opts.epsilon, shareEpsilon: share! } : { noiseMultiplier: opts.noiseMultiplier! }),
    chunks: chunks.map((c, i) => ({ ...c, noiseMultiplier: sigmas[i]!, epsilonAlone: alone(c, sigmas[i]!) })),
    mechanisms: mech,
    composition: DP_COMPOSITION,
  };
}
