// The netshare JSON config: zod schema for global/preprocess/train keys (model keys via src/model/config.ts), presets, key-path errors.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, InputError, expected } from '../errors.js';
import { parseModelConfig, type ModelConfig } from '../model/config.js';
import pcapPreset from './presets/pcap.json' with { type: 'json' };
import netflowPreset from './presets/netflow.json' with { type: 'json' };
import pcapNetsharePreset from './presets/pcap-netshare.json' with { type: 'json' };
import netflowNetsharePreset from './presets/netflow-netshare.json' with { type: 'json' };

const posInt = z.number().int().positive();
const nonNeg = z.number().nonnegative();
const range = z.tuple([z.number(), z.number()]);

export const normalizationSchema = z.enum(['zeroOne', 'minusOneOne']);
export type Normalization = z.infer<typeof normalizationSchema>;

/**
 * One modelled field. `column` names a NetShare column: srcip, dstip, srcport, dstport, proto (both datasets);
 * pkt_len, tos, id, flag, off, ttl (pcap); td, pkt, byt, type, label (netflow); and what bidirectional inputs
 * carry: rpkt, rbyt, state, service (Zeek conn.log), sbyt, dtos, dir, state (Argus). `optional`: a trace without the
 * column is preprocessed without the field (with a notice) instead of refused; default true for label and type.
 */
const optional = { optional: z.boolean().optional() };
export const fieldSpecSchema = z.discriminatedUnion('encoding', [
  /** IPv4 → 32 bits MSB first (IPv6 → 128), each a 2-way one-hot. */
  z.strictObject({ column: z.string(), encoding: z.literal('ipBits'), ...optional }),
  /**
   * A categorical over the `top` most popular addresses (by records; each needs `minCount` records) + an "other" class,
   * then the address's bits as `ipBits` for the other addresses. The chosen addresses are learnt from the data.
   */
  z.strictObject({
    column: z.string(),
    encoding: z.literal('ipTop'),
    top: z.number().int().min(1).max(4096).default(255),
    minCount: z.number().int().min(1).default(2),
    ...optional,
  }),
  /** Integer → nBits bits MSB first, each a 2-way one-hot (ports: 16). */
  z.strictObject({ column: z.string(), encoding: z.literal('bits'), nBits: z.number().int().min(1).max(32), ...optional }),
  /** word2vec embedding (CBOW), L2-normalised, decoded by exact cosine nearest neighbour. */
  z.strictObject({ column: z.string(), encoding: z.literal('word2vecPort'), ...optional }),
  z.strictObject({ column: z.string(), encoding: z.literal('word2vecProto'), ...optional }),
  /** One-hot over `choices` (data order, sorted, when absent; persisted in the encoder state). */
  z.strictObject({
    column: z.string(),
    encoding: z.literal('categorical'),
    choices: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    ...optional,
  }),
  /** Min-max to [0,1] or [-1,1]; optional log1p first; fixed min/max (required in DP mode). */
  z.strictObject({
    column: z.string(),
    encoding: z.literal('continuous'),
    normalization: normalizationSchema.default('zeroOne'),
    log1p: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    /**
     * Decoding rounds to integers. Absent: learnt from the data (integers when every value is one), or in DP mode
     * the column's type (counts, lengths, header fields: integers; `td`: not), never the private values.
     */
    integer: z.boolean().optional(),
    /**
     * A 2-way head "at the minimum / above it" before the value, for a field with a point mass at its minimum (a
     * sigmoid never outputs its bound: UGR16's td = 0 and pkt = 1 records, a third of them, came out with none).
     */
    pointMass: z.boolean().default(false),
    /**
     * K > 0: a softmax over the K most frequent values (each in ≥ 2 records) + "other" before the value; those values
     * decode exactly (packet lengths: a few sizes carry most packets, which a sigmoid smears). Learnt from the data.
     */
    topValues: z.number().int().min(0).max(1024).default(0),
    ...optional,
  }),
]);
export type FieldSpec = z.infer<typeof fieldSpecSchema>;

/** DP-SGD settings (`global.dp`). */
export const dpSchema = z.strictObject({
  /** Target ε of the whole run (every chunk, both critics, the released flow counts); σ is derived. */
  epsilon: z.number().positive().optional(),
  /** σ: noise std over the clip (N(0, (σ·C)²) per coordinate of the summed clipped gradient); ε is derived. */
  // σ = 0 adds no noise (ε = ∞): a DP run that protects nothing is refused, not reported as DP
  noiseMultiplier: z.number().positive({ error: 'a noise multiplier σ > 0 (σ = 0 adds no noise: ε would be infinite; leave --dp off for a non-private run)' }).optional(),
  /** δ of the (ε, δ) guarantee (NetShare: 1e-5). */
  delta: z.number().gt(0).lt(1).default(1e-5),
  /** Per-example L2 clip C over all critic params together (NetShare: 1.0). */
  clip: z.number().positive().default(1.0),
  /**
   * Std of the Gaussian noise on each chunk's released flow count (sensitivity 1 flow). NetShare uses 1, which alone
   * costs ε ≈ 20 over 10 chunks at δ = 1e-5; 20 flows costs ε ≈ 1.1 there, negligible next to thousands of flows.
   */
  countNoise: z.number().positive().default(20),
});
export type DpConfig = z.infer<typeof dpSchema>;

export const globalSchema = z.strictObject({
  /** Seed of every random choice (word2vec init and sampling, training, generation). */
  seed: z.number().int().nonnegative().default(0),
  /** Work folder; the CLI's --workdir wins. */
  workdir: z.string().nullable().default(null),
  /** Packet traces model packets; NetFlow traces model flow records. */
  dataset: z.enum(['pcap', 'netflow']),
  /**
   * Differential privacy (spec §3.5; README "Differential privacy"): `false`, or the DP-SGD settings. Give exactly one
   * of `epsilon` (σ is derived by the accountant) or `noiseMultiplier` (ε is derived); `true` alone is refused.
   */
  dp: z
    .union([z.boolean(), dpSchema])
    .default(false)
    .transform((v): false | DpConfig => (v === false ? false : dpSchema.parse(v === true ? {} : v))),
});

export const preprocessSchema = z.strictObject({
  /** Number of time chunks (NetShare `n_chunks`; paper 10). */
  nChunks: posInt.default(10),
  /** `fixedTime`: equal time spans (NetShare `df2chunks fixed_time`); `fixedSize`: equal record counts. */
  chunking: z.enum(['fixedTime', 'fixedSize']).default('fixedTime'),
  /** Chunks with no records: `skip` (NetShare: warn and skip, chunk ids stay dense over non-empty chunks) or `error`. */
  emptyChunks: z.enum(['skip', 'error']).default('skip'),
  /** Longest flow (records per chunk) kept; null = the longest in the data (camera-ready non-DP). */
  maxFlowLen: posInt.nullable().default(null),
  /** What happens to longer flows: `truncate` (master: head(maxFlowLen)) or `drop` (camera-ready DP). */
  longFlows: z.enum(['truncate', 'drop']).default('truncate'),
  /** Flow tags appended to the attributes (2 + 2·nChunks dims). */
  flowTags: z.enum(['multichunk_dep_v2', 'none']).default('multichunk_dep_v2'),
  /** Timestamp as flow start (attribute) + inter-arrival (first feature), normalised per chunk. */
  timestamp: z
    .strictObject({
      encoding: z.literal('interarrival').default('interarrival'),
      normalization: normalizationSchema.default('zeroOne'),
      /** Flow start as a one-hot over this many equal slices of the chunk + the position inside it; 0 = NetShare's one value. */
      flowStartBins: z.number().int().min(0).max(1000).default(0),
      /**
       * Inter-arrival scaled as log1p(µs) between the chunk's smallest and largest (true), not linearly (false:
       * NetShare). Linearly, one long gap in a chunk squeezes every millisecond gap into the sigmoid's first 1e-5.
       */
      interarrivalLog: z.boolean().default(false),
    })
    .prefault({}),
  /** word2vec for ports/protocols (gensim 3.8 defaults NetShare used: CBOW, dim 10, window 5, negative 5, 5 epochs). */
  word2vec: z
    .strictObject({
      dim: posInt.default(10),
      window: posInt.default(5),
      negative: posInt.default(5),
      epochs: posInt.default(5),
      alpha: z.number().positive().default(0.025),
      minAlpha: z.number().positive().default(1e-4),
      /** Train on a seeded uniform sample of at most this many sentences (records); 0 = all. */
      maxSentences: z.number().int().nonnegative().default(100_000),
      /** Down-sampling threshold of frequent words (gensim `sample`). */
      sample: nonNeg.default(1e-3),
    })
    .prefault({}),
  /** Attribute fields (per flow) and feature fields (per record), in output order. */
  metadata: z.array(fieldSpecSchema).min(1),
  timeseries: z.array(fieldSpecSchema),
  /** Data-independent ranges for DP mode (spec §2.3/§2.4): chunk edges and the inter-arrival range (seconds). */
  dpRanges: z
    .strictObject({
      startTimeUs: z.number().nullable().default(null),
      endTimeUs: z.number().nullable().default(null),
      interarrivalS: range.default([0, 1]),
    })
    .prefault({}),
  /** Refuse a maximum flow length whose dense features [n, T, F] float32 of the largest chunk exceed this. */
  maxTensorMB: posInt.default(4096),
  /**
   * Share of the input's 5-tuple flows held out before anything is fitted (chunking, encoders, word2vec, training
   * never see them): a seeded random choice of round(share × flows) flows, every record of a chosen flow held out.
   * `run` evaluates against them (downstream test set, privacy reference, the "held-out" column). 0 disables; a
   * trace with fewer than 20 flows holds none out (too few to train on and to test with). `--holdout-file` replaces
   * it with a file of real records (the input is then all training).
   */
  holdoutShare: z.number().min(0).max(0.5).default(0.1),
});

export const trainSchema = z.strictObject({
  /** Chunks 1..n−1 fine-tune from chunk 0 for this fraction of its iterations (NetShare `1/pretrain_non_dp_reduce_time`). */
  fineTuneFraction: z.number().gt(0).max(1).default(0.25),
  /** Fine-tune chunks 1..n−1 from chunk 0 (`pretrain_non_dp`); false trains every chunk from scratch. */
  fineTuneFromChunk0: z.boolean().default(true),
});

export const postprocessSchema = z.strictObject({
  /**
   * Metrics whose rank-sum chooses each chunk's checkpoint (NetShare's choose_best_model, spec §4.3): `"netshare"`
   * (default) = NetShare's own metrics, the marginals (src/eval/fidelity.ts NETSHARE_METRICS: nine for NetFlow,
   * eight for packets); `"all"` = every metric the evaluation reports (marginals, joint and temporal); or a list of
   * metric names of the dataset's kind (src/eval/README.md). Names are checked before any work starts (ConfigError
   * naming this key); selection.json and the manifest record the set each chunk was chosen by.
   */
  selectionMetrics: z
    .union([z.enum(['netshare', 'all']), z.array(z.string()).min(1)], { error: '"netshare", "all" or a non-empty list of metric names' })
    .default('netshare'),
  /**
   * Generated ephemeral ports (≥ 1024 and used by at most 2 training flows of the chunk): `"model"` (default, NetShare)
   * keeps the port the word2vec embedding decodes to; `"resample"` draws each one uniformly from the chunk's real
   * ephemeral ports, as an OS allocates client ports (src/pipeline/generate.ts resampleEphemeralPorts), which
   * recreates real 5-tuples; `"range"` draws each one from a histogram of the chunk's real ephemeral ports over
   * 1,024-port bins, uniformly inside the bin (src/pipeline/ephemeral-ports.ts). Applies to word2vec-encoded ports
   * only. Part of the generate stage's fingerprint.
   */
  ephemeralPorts: z.enum(['model', 'resample', 'range']).default('model'),
  /**
   * How the flow-start bin of a generated flow is read from the generator's softmax over the bins
   * (preprocess.timestamp.flowStartBins > 0): `"argmax"` (default, as every softmax head) or `"sample"`, a draw from
   * it (src/pipeline/flow-starts.ts sampleFlowStartBins: at CPU-budget iterations the softmax is nearly flat and its
   * arg-max puts the flows of a chunk in a few bins). Part of the generate stage's fingerprint.
   */
  flowStartBin: z.enum(['argmax', 'sample']).default('argmax'),
  /**
   * How the value of a categorical attribute head (ipTop's popular addresses, TTL, ToS, other categorical fields) is read
   * from the generator's softmax: `"argmax"` (default, NetShare) or `"sample"`, a seeded draw from it
   * (src/pipeline/categoricals.ts: at CPU-budget iterations the softmax is soft and its arg-max puts nearly every flow on
   * the most popular value). Part of the generate stage's fingerprint.
   */
  attributeCategoricals: z.enum(['argmax', 'sample']).default('argmax'),
  /**
   * How the class of a softmax feature head (per record: categorical fields such as TCP flags, `topValues` and
   * `pointMass` heads) is read when generated records are decoded: `"argmax"` (default, NetShare) or `"sample"`, a draw
   * from the softmax keyed by the flow's attribute row, the step and the head (src/pipeline/categoricals.ts
   * sampleFeatureCategoricals). The LSTM does not see its own outputs, so the draw changes only what is written out.
   * Part of the generate stage's fingerprint.
   */
  featureCategoricals: z.enum(['argmax', 'sample']).default('argmax'),
  /**
   * Where a generated flow ends: `"argmax"` (default, NetShare: the first record whose gen flag's arg-max is "end") or
   * `"sample"`: each record's "end" drawn from the flag's softmax (src/model/postprocess.ts sampleStoppingRule; a stream
   * per batch of flows, like the noise). The LSTM does not see its own outputs, so the draw changes only where the
   * written flow stops. At few iterations the arg-max ended nearly every UGR16 flow after one record. Part of the
   * generate stage's fingerprint.
   */
  stopFlag: z.enum(['argmax', 'sample']).default('argmax'),
  /**
   * How long generated flows are: `"model"` (default: as the gen flags say) or `"calibrated"` (needs stopFlag
   * "sample"): the "end" log-odds of every flow's record t are shifted by δ_t (one per record, chunk and checkpoint),
   * chosen so that the flows' length distribution is, in expectation, the chunk's training flows' (src/model/sample.ts
   * calibrateEndHazards, on the chunk's first LENGTH_CALIBRATION_FLOWS rows). The model still decides which flows are
   * long. A generator trained for few iterations ends too few flows late (UGR16 day at 924 iterations: 0.4% of flows
   * with 3+ records where the chunk has 2.7%; 1.17 records per flow, the chunk 1.28), and the records fall short of the
   * trace's by as much. It reads the private training flows' lengths at generation, so it is refused in DP mode. The
   * shifts of every candidate are in the generate stage's outcome. Part of its fingerprint.
   */
  flowLengths: z.enum(['model', 'calibrated']).default('model'),
  /**
   * Generated flows whose 5-tuple is a training flow's: `"keep"` (default, NetShare) or `"reject"`: the fill treats the
   * training 5-tuples as taken and samples on until the asked number of new ones exists, so no synthetic 5-tuple is a
   * verbatim copy of a training one (a model trained to its budget memorises the frequent service-to-service tuples:
   * 7.8–8.7% of the enterprise pcap's synthetic 5-tuples at 10 minutes). It reads the private training flows at
   * generation, so it is refused in DP mode. Part of the generate stage's fingerprint.
   */
  trainingTuples: z.enum(['keep', 'reject']).default('keep'),
});

/**
 * Where the train and generate jobs run (the `--executor`, `--workdir-root` and `--job-timeout` flags override these).
 * Not part of any stage's fingerprint: the outputs do not depend on where the jobs ran.
 */
export const executorSchema = z.strictObject({
  /** `redis://host:port[/db]`: run the jobs on `netshare worker`s through BullMQ; absent: the local pool. */
  url: z.string().regex(/^redis:\/\/[^/:?#\s]+:\d{1,5}(\/\d{1,2})?\/?$/, { error: 'redis://host:port[/db]' }).optional(),
  /** The shared folder job paths are relative to (each worker's --workdir-root); default: the workdir's parent. */
  workdirRoot: z.string().min(1).optional(),
  /** Fail a job that runs longer than this many seconds (not retried). */
  jobTimeoutS: z.number().positive().optional(),
});

export type ExecutorConfig = z.infer<typeof executorSchema>;
export type GlobalConfig = z.infer<typeof globalSchema>;
export type PreprocessConfig = z.infer<typeof preprocessSchema>;
export type TrainConfig = z.infer<typeof trainSchema>;
export type PostprocessConfig = z.infer<typeof postprocessSchema>;

export interface NetShareConfig {
  global: GlobalConfig;
  preprocess: PreprocessConfig;
  train: TrainConfig;
  model: ModelConfig;
  postprocess: PostprocessConfig;
  /** Where the jobs run (absent: the local pool). */
  executor?: ExecutorConfig;
}

/** Built-in presets (PRESETS below). */
export const PRESET_NAMES = ['pcap', 'netflow', 'pcap-netshare', 'netflow-netshare'] as const;

const topSchema = z.strictObject({
  /** A preset this file starts from (`pcap` | `netflow`); its keys are overridden by this file's. */
  preset: z.enum(PRESET_NAMES).optional(),
  global: globalSchema,
  preprocess: preprocessSchema,
  train: trainSchema.prefault({}),
  model: z.record(z.string(), z.unknown()).prefault({}),
  postprocess: postprocessSchema.prefault({}),
  executor: executorSchema.optional(),
});

/**
 * `pcap` / `netflow`: the best measured configuration (bench/experiments.md); `pcap-netshare` / `netflow-netshare`:
 * NetShare's own encodings and paper sizes (spec §2), kept for reproducing the paper.
 */
export const PRESETS: Record<(typeof PRESET_NAMES)[number], Record<string, unknown>> = {
  pcap: pcapPreset as Record<string, unknown>,
  netflow: netflowPreset as Record<string, unknown>,
  'pcap-netshare': pcapNetsharePreset as Record<string, unknown>,
  'netflow-netshare': netflowNetsharePreset as Record<string, unknown>,
};
export type PresetName = keyof typeof PRESETS;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merge `over` onto `base`: objects merge key by key, everything else (arrays included) replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) v = isPlainObject(v) || Array.isArray(v) ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** Turn the first zod issue into a ConfigError: key path, bad value, what was expected. */
function zodToConfigError(err: z.ZodError, input: unknown, source: string): ConfigError {
  const issue = err.issues[0]!;
  const key = issue.path.map(String).join('.');
  const at = source ? ` (in ${source})` : '';
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    const k = keys.map((x) => (key ? `${key}.${x}` : x)).join(', ');
    return new ConfigError(`${expected('only known keys', key || 'the config', keys)}: unknown key ${k}${at}`, key ? `${key}.${keys[0]}` : keys[0]);
  }
  const value = valueAt(input, issue.path);
  const what = issue.message
    .replace(/^Invalid discriminator value\. Expected /, 'one of ')
    .replace(/^Invalid input: expected /i, '')
    .replace(/^Expected /, '')
    .replace(/, received \w+$/, '')
    .replace(/^Invalid input$/, 'a valid value')
    .replace(/^Invalid option: expected one of /, 'one of ');
  return new ConfigError(`${expected(what, key || 'the config', value === undefined ? '(missing)' : value)}${at}`, key);
}

/**
 * Validate a raw config object (with an optional `preset` it extends) into a typed config. Throws a ConfigError
 * naming the key path, the bad value and what was expected; then checks the cross-key invariants.
 */
export function parseConfig(raw: unknown, source = ''): NetShareConfig {
  if (!isPlainObject(raw)) throw new ConfigError(expected('a JSON object', 'the config', raw), '');
  let merged: unknown = raw;
  const preset = raw.preset;
  if (preset !== undefined) {
    if (typeof preset !== 'string' || !(PRESET_NAMES as readonly string[]).includes(preset)) {
      throw new ConfigError(expected(PRESET_NAMES.map((p) => `"${p}"`).join(' | '), 'preset', preset), 'preset');
    }
    merged = deepMerge(PRESETS[preset as PresetName], raw);
  }
  const res = topSchema.safeParse(merged);
  if (!res.success) throw zodToConfigError(res.error, merged, source);
  const model = parseModelConfig(res.data.model, 'model.');
  const cfg: NetShareConfig = {
    global: res.data.global,
    preprocess: res.data.preprocess,
    train: res.data.train,
    model,
    postprocess: res.data.postprocess,
    ...(res.data.executor ? { executor: res.data.executor } : {}),
  };
  refuseUnavailable(cfg);
  checkInvariants(cfg);
  return cfg;
}

/**
 * Settings the schema names but the tool cannot honour: refused before any work, never run as something else.
 * `global.dp` needs exactly one of ε or σ (the other is derived by the accountant once the chunks' flow counts are known).
 */
export function refuseUnavailable(cfg: NetShareConfig): void {
  const dp = cfg.global.dp;
  if (dp && (dp.epsilon === undefined) === (dp.noiseMultiplier === undefined)) {
    const k = dp.epsilon === undefined ? 'global.dp.epsilon' : 'global.dp.noiseMultiplier';
    throw new ConfigError(
      `${expected('exactly one of global.dp.epsilon or global.dp.noiseMultiplier', k, dp.epsilon === undefined ? undefined : [dp.epsilon, dp.noiseMultiplier])}: ` +
        'give the target ε (σ is derived) or σ (ε is derived), e.g. --dp --epsilon 4',
      k,
    );
  }
}

/** A preset by name, with optional overrides (deep-merged), validated. */
export function presetConfig(name: PresetName, overrides: Record<string, unknown> = {}): NetShareConfig {
  return parseConfig(deepMerge({ preset: name }, overrides), `preset ${name}`);
}

/** Read and validate a JSON config file. */
export function loadConfigFile(file: string): NetShareConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`, '');
  }
  return parseConfig(raw, file);
}

/** Cross-key invariants that need no data (DESIGN decision 6). */
export function checkInvariants(cfg: NetShareConfig): void {
  const p = cfg.preprocess;
  const m = cfg.model;
  if (p.maxFlowLen !== null && m.sampleLen > p.maxFlowLen) {
    throw new ConfigError(
      expected(`model.sampleLen ≤ preprocess.maxFlowLen (${p.maxFlowLen})`, 'model.sampleLen', m.sampleLen),
      'model.sampleLen',
    );
  }
  const seen = new Set<string>();
  for (const [sect, list] of [['metadata', p.metadata], ['timeseries', p.timeseries]] as const) {
    list.forEach((f, i) => {
      const key = `preprocess.${sect}.${i}.column`;
      if (seen.has(f.column)) throw new ConfigError(expected('a column modelled once', key, f.column), key);
      seen.add(f.column);
      if (f.encoding === 'continuous' && f.min !== undefined && f.max !== undefined && !(f.max > f.min)) {
        throw new ConfigError(expected(`max > min (${f.min})`, `preprocess.${sect}.${i}.max`, f.max), `preprocess.${sect}.${i}.max`);
      }
      if (cfg.global.dp && f.encoding === 'continuous' && (f.min === undefined || f.max === undefined)) {
        const k = `preprocess.${sect}.${i}.${f.min === undefined ? 'min' : 'max'}`;
        throw new ConfigError(expected('a data-independent bound (global.dp is on)', k, undefined), k);
      }
      if (f.encoding === 'continuous' && f.topValues > 0 && f.pointMass) {
        const k = `preprocess.${sect}.${i}.topValues`;
        throw new ConfigError(`${expected('0 (pointMass is on; give one of the two)', k, f.topValues)}`, k);
      }
      if (f.encoding === 'continuous' && f.topValues > 0 && cfg.global.dp) {
        const k = `preprocess.${sect}.${i}.topValues`;
        throw new ConfigError(
          `${expected('0 (global.dp is on)', k, f.topValues)}: topValues chooses its frequent values from the private records, which is not differentially private`,
          k,
        );
      }
      if (f.encoding === 'ipTop' && cfg.global.dp) {
        const k = `preprocess.${sect}.${i}.encoding`;
        throw new ConfigError(
          `${expected('"ipBits" (global.dp is on)', k, f.encoding)}: ipTop chooses its popular addresses from the private records, which is not differentially private`,
          k,
        );
      }
      if (f.encoding === 'categorical' && cfg.global.dp && !f.choices) {
        const k = `preprocess.${sect}.${i}.choices`;
        throw new ConfigError(expected('fixed choices (global.dp is on)', k, undefined), k);
      }
    });
  }
  for (const need of ['srcip', 'dstip', 'srcport', 'dstport', 'proto']) {
    if (!p.metadata.some((f) => f.column === need)) {
      throw new ConfigError(expected(`a field for the 5-tuple column ${need}`, 'preprocess.metadata', p.metadata.map((f) => f.column)), 'preprocess.metadata');
    }
  }
  const [ia0, ia1] = p.dpRanges.interarrivalS;
  if (!(ia1 > ia0)) throw new ConfigError(expected('[min, max] with max > min', 'preprocess.dpRanges.interarrivalS', p.dpRanges.interarrivalS), 'preprocess.dpRanges.interarrivalS');
  if (cfg.postprocess.flowLengths === 'calibrated' && cfg.postprocess.stopFlag !== 'sample') {
    throw new ConfigError(
      `${expected('"model" with postprocess.stopFlag "argmax"', 'postprocess.flowLengths', 'calibrated')}: the calibration shifts the odds that ` +
        'a drawn stop flag ends a flow; set postprocess.stopFlag to "sample"',
      'postprocess.flowLengths',
    );
  }
  if (cfg.global.dp) {
    const { startTimeUs, endTimeUs } = p.dpRanges;
    if (startTimeUs === null || endTimeUs === null) {
      const k = `preprocess.dpRanges.${startTimeUs === null ? 'startTimeUs' : 'endTimeUs'}`;
      throw new ConfigError(expected('data-independent chunk edges (global.dp is on)', k, null), k);
    }
    if (!(endTimeUs > startTimeUs)) throw new ConfigError(expected(`a time after startTimeUs (${startTimeUs})`, 'preprocess.dpRanges.endTimeUs', endTimeUs), 'preprocess.dpRanges.endTimeUs');
    if (p.maxFlowLen === null) throw new ConfigError(expected('a fixed maximum flow length (global.dp is on)', 'preprocess.maxFlowLen', null), 'preprocess.maxFlowLen');
    if (p.chunking !== 'fixedTime') {
      throw new ConfigError(`${expected('"fixedTime" (global.dp is on)', 'preprocess.chunking', p.chunking)}: fixedSize chunk edges depend on the records`, 'preprocess.chunking');
    }
    if (cfg.postprocess.trainingTuples === 'reject') {
      throw new ConfigError(
        `${expected('"keep" (global.dp is on)', 'postprocess.trainingTuples', 'reject')}: rejecting the training 5-tuples reads the private flows at ` +
          'generation, outside the DP guarantee',
        'postprocess.trainingTuples',
      );
    }
    if (cfg.postprocess.flowLengths === 'calibrated') {
      throw new ConfigError(
        `${expected('"model" (global.dp is on)', 'postprocess.flowLengths', 'calibrated')}: calibrating flow lengths reads the training flows' ` +
          'lengths at generation, outside the DP guarantee',
        'postprocess.flowLengths',
      );
    }
    if (p.holdoutShare > 0) {
      throw new ConfigError(
        `${expected('0 (global.dp is on)', 'preprocess.holdoutShare', p.holdoutShare)}: the held-out flows are chosen among all flows (their number and the draw ` +
          'depend on every flow), so adding one flow could move others in or out of training and the DP guarantee would not hold; ' +
          'use --holdout-share 0, or --holdout-file with separate real records',
        'preprocess.holdoutShare',
      );
    }
    // (postprocess.ephemeralPorts draws from the chunk's real ports but acts on word2vec-encoded ports only, refused
    // below; postprocess.flowStartBin only reads the generator's own softmax.)
    // word2vec is fitted on the private records and decodes only to values seen in them (spec §2.4): neither is DP.
    // A public-trace word2vec is not built; ports and protocols take data-independent encodings instead.
    for (const [sect, list] of [['metadata', p.metadata], ['timeseries', p.timeseries]] as const) {
      list.forEach((f, i) => {
        if (f.encoding === 'word2vecPort' || f.encoding === 'word2vecProto') {
          const k = `preprocess.${sect}.${i}.encoding`;
          throw new ConfigError(
            `${expected('a data-independent encoding (global.dp is on)', k, f.encoding)}: word2vec is trained on the private records and decodes only to values ` +
              `seen in them, which is not differentially private (word2vec on a public trace is not built); use {"encoding": "bits", "nBits": 16} for ports ` +
              'or {"encoding": "categorical", "choices": [...]} with fixed choices',
            k,
          );
        }
      });
    }
  }
}

/** Invariants that need the data: chunk count vs records and time span. */
export function checkDataInvariants(cfg: NetShareConfig, data: { records: number; firstUs: number; lastUs: number }): void {
  const p = cfg.preprocess;
  if (data.records === 0) throw new ConfigError('the input has no records to preprocess', 'preprocess.nChunks');
  if (p.nChunks > data.records) {
    throw new ConfigError(expected(`at most one chunk per record (${data.records} records)`, 'preprocess.nChunks', p.nChunks), 'preprocess.nChunks');
  }
  if (p.chunking === 'fixedTime' && p.nChunks > 1 && !(data.lastUs > data.firstUs)) {
    throw new ConfigError(
      expected('1 chunk (every record has the same timestamp, so fixedTime chunks have zero span)', 'preprocess.nChunks', p.nChunks),
      'preprocess.nChunks',
    );
  }
}
