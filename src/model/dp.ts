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

/** DP settings of a run (global.dp), resolved: exactly one of ε or σ was given, the other derived. */
export interface DpSettings {
  clip: number;
  delta: number;
  noiseMultiplier: number;
  /** Std of the noise on each chunk's released flow count (sensitivity 1 flow). */
  countNoise: number;
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

/** The ledger a DP run reports (manifest, CLI, report). */
export interface DpLedger {
  epsilon: number;
  delta: number;
  /** The RDP order at which ε was reached. */
  order: number;
  noiseMultiplier: number;
  clip: number;
  countNoise: number;
  /** How ε was obtained: 'epsilon' = σ derived from the target ε; 'noiseMultiplier' = ε derived from σ. */
  given: 'epsilon' | 'noiseMultiplier';
  targetEpsilon?: number;
  chunks: DpChunkPlan[];
  /** Every composed mechanism (RDP summed over all of them). */
  mechanisms: RdpEntry[];
  composition: string;
}

export const DP_COMPOSITION =
  'RDP of the Poisson-subsampled Gaussian mechanism (orders ' + `${NETSHARE_RDP_ORDERS[0]}…${NETSHARE_RDP_ORDERS.at(-1)}` + '), summed over: ' +
  'every critic step of every chunk (iterations × dRounds per chunk, each on its own Poisson sample; the feature critic and the ' +
  'attribute critic are clipped jointly to C as one vector, so one step of both is one sampled Gaussian mechanism with sensitivity C and noise σ·C), ' +
  'and one Gaussian mechanism (q = 1, sensitivity 1 flow, noise countNoise) per chunk for the released flow count; ' +
  'summing over chunks is the sequential composition (valid whatever the chunks share); ' +
  'converted to (ε, δ) with the RDP→DP conversion of tensorflow/privacy (ε = min over orders of rdp − log δ/(α − 1)). ' +
  'Unit of privacy: adding or removing one 5-tuple flow with all its records. Such a flow is one example in each chunk it appears in ' +
  '(its flow tags are its own attributes) and changes each of those chunks\' flow count by 1, and the sum covers every chunk. ' +
  'Changing only some records of a flow (e.g. one packet) replaces an example instead: by group privacy, at most (2ε, (1 + e^ε)·δ).';

function mechanisms(chunks: readonly DpChunkPlan[], sigma: number, countNoise: number): RdpEntry[] {
  const out: RdpEntry[] = [];
  for (const c of chunks) {
    out.push({ label: `chunk ${c.chunk}: critics (feature + attribute, jointly clipped)`, q: c.q, sigma, steps: c.steps });
    out.push({ label: `chunk ${c.chunk}: noisy flow count`, q: 1, sigma: countNoise, steps: 1 });
  }
  return out;
}

/** The per-chunk plan: q = min(1, batch/flows), steps = iterations × dRounds. */
export function dpChunkPlan(chunk: number, flows: number, batchSize: number, iterations: number, dRounds: number): DpChunkPlan {
  if (!(flows >= 1)) throw new ConfigError(`chunk ${chunk} has no flows to train on with DP`, 'global.dp');
  const q = Math.min(1, batchSize / flows);
  return { chunk, flows, q, expectedBatch: q * flows, steps: iterations * dRounds };
}

/**
 * Resolves σ (from a target ε) or ε (from σ) over the whole run's composition. Throws a ConfigError when the
 * flow-count releases alone exceed the target ε.
 */
export function dpLedger(
  chunks: readonly DpChunkPlan[],
  opts: { clip: number; delta: number; countNoise: number } & ({ epsilon: number; noiseMultiplier?: undefined } | { noiseMultiplier: number; epsilon?: undefined }),
): DpLedger {
  let sigma: number;
  let given: DpLedger['given'];
  if (opts.epsilon !== undefined) {
    given = 'epsilon';
    const fixed = new RdpAccountant();
    for (const m of mechanisms(chunks, 1, opts.countNoise).filter((m) => m.label.endsWith('flow count'))) fixed.compose(m);
    const floor = fixed.epsilon(opts.delta).epsilon;
    if (floor >= opts.epsilon) {
      throw new ConfigError(
        `the noisy flow counts alone cost ε = ${floor.toPrecision(4)} at δ = ${opts.delta} (${chunks.length} chunks, count noise ${opts.countNoise}), above the target ε = ${opts.epsilon}: raise global.dp.countNoise or ε`,
        'global.dp.epsilon',
      );
    }
    sigma = noiseMultiplierFor(opts.epsilon, opts.delta, chunks.map((c) => ({ q: c.q, steps: c.steps })), NETSHARE_RDP_ORDERS, mechanisms(chunks, 1, opts.countNoise).filter((m) => m.label.endsWith('flow count')));
  } else {
    given = 'noiseMultiplier';
    sigma = opts.noiseMultiplier;
  }
  const acc = new RdpAccountant();
  const mech = mechanisms(chunks, sigma, opts.countNoise);
  for (const m of mech) if (m.sigma > 0) acc.compose(m);
  const e = sigma > 0 ? acc.epsilon(opts.delta) : { epsilon: Infinity, order: NaN };
  return {
    epsilon: e.epsilon,
    delta: opts.delta,
    order: e.order,
    noiseMultiplier: sigma,
    clip: opts.clip,
    countNoise: opts.countNoise,
    given,
    ...(opts.epsilon !== undefined ? { targetEpsilon: opts.epsilon } : {}),
    chunks: [...chunks],
    mechanisms: mech,
    composition: DP_COMPOSITION,
  };
}
