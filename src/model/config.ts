// DoppelGANger model/training configuration: NetShare camera-ready defaults, zod validation, presets.
import { z } from 'zod';
import { ConfigError, expected } from '../errors.js';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const posNum = z.number().positive();

/**
 * One config object, fields documented with their meaning and NetShare's value (spec §1.2, §3).
 * Sizes count *hidden* layers: NetShare's `generator_attribute_num_layers = 5` means 4 hidden
 * Linear+ReLU+BatchNorm layers and one output head layer; likewise for the discriminators.
 */
export const modelConfigSchema = z
  .object({
    /** Attribute noise dimension (`attribute_latent_dim`). */
    attributeNoiseDim: posInt.default(5),
    /** Per-LSTM-step feature noise dimension (`feature_latent_dim`). */
    featureNoiseDim: posInt.default(5),
    /** Hidden layers of the attribute generator MLP (Linear → ReLU → BatchNorm each). */
    attrGenLayers: posInt.default(4),
    attrGenUnits: posInt.default(512),
    /** BatchNorm epsilon and running-average momentum (TF `decay` 0.9: running = 0.9·running + 0.1·batch). */
    batchNormEps: posNum.default(1e-5),
    batchNormDecay: z.number().min(0).max(1).default(0.9),
    /** LSTM units of the feature generator (1 layer). */
    lstmUnits: posInt.default(100),
    /** Records emitted per LSTM step (`sample_len`). */
    sampleLen: posInt.default(10),
    /** Discriminator: hidden layers × units (ReLU), then Linear → 1. */
    discLayers: posInt.default(4),
    discUnits: posInt.default(512),
    /** Auxiliary attribute discriminator (`aux_disc`). */
    useAttrDiscriminator: z.boolean().default(true),
    attrDiscLayers: posInt.default(4),
    attrDiscUnits: posInt.default(512),
    /** WGAN-GP penalty weights and the generator's auxiliary-loss weight. */
    gpCoe: z.number().nonnegative().default(10),
    attrGpCoe: z.number().nonnegative().default(10),
    gAttrDCoe: z.number().nonnegative().default(1),
    /** Adam for G, D and attr-D (lr 1e-4, β1 0.5, β2 0.999, ε 1e-8). */
    gLr: posNum.default(1e-4),
    dLr: posNum.default(1e-4),
    attrDLr: posNum.default(1e-4),
    beta1: z.number().min(0).lt(1).default(0.5),
    beta2: z.number().min(0).lt(1).default(0.999),
    adamEps: posNum.default(1e-8),
    /** Discriminator steps, then generator steps, per iteration, all on the same batch. */
    dRounds: posInt.default(5),
    gRounds: posInt.default(1),
    batchSize: posInt.default(100),
    /** Training length in iterations (one batch each) and checkpoint period (0 = only at the end). */
    iterations: posInt.default(200000),
    checkpointEvery: nonNegInt.default(20000),
    /** Keep only this many most recent checkpoints (0 = keep all; every one is a model-selection candidate). */
    keepCheckpoints: nonNegInt.default(0),
    /**
     * What the discriminator sees of a generated flow's records after its end (networks.ts stoppingRule). Absent or
     * false (NetShare, TF DoppelGANger): the sampleLen group holding the end is kept whole, so the records after the end
     * inside it are judged against the real flows' zero padding there. True: their feature dims are zeroed by the
     * generated flow's own flags (the gen-flag dims are kept per group as before), so a record's values are judged only
     * where the flow emits it.
     */
    recordMask: z.boolean().optional(),
  })
  .strict();

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/** Camera-ready presets (spec §1.2 "Paper-era defaults"). */
export const MODEL_PRESETS: Record<'pcap' | 'netflow', ModelConfigInput> = {
  pcap: { iterations: 80000, checkpointEvery: 4000, sampleLen: 10 },
  netflow: { iterations: 200000, checkpointEvery: 20000, sampleLen: 10 },
};

/**
 * Validates a model config (partial input, defaults filled in) and the cross-key invariants.
 * Every error is a ConfigError naming the key path (prefixed with `prefix`, e.g. `model.`).
 */
export function parseModelConfig(input: unknown, prefix = 'model.'): ModelConfig {
  const res = modelConfigSchema.safeParse(input ?? {});
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const key = prefix + issue.path.map(String).join('.');
    let value: unknown = input;
    for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
    const what = issue.code === 'unrecognized_keys' ? 'a known key' : `a valid value (${issue.message.replace(/^Invalid input: /, '')})`;
    const name = issue.code === 'unrecognized_keys' ? `${key}${(issue as { keys?: string[] }).keys?.join(',') ?? ''}` : key;
    throw new ConfigError(expected(what, name, issue.code === 'unrecognized_keys' ? '(unknown key)' : value), name);
  }
  const cfg = res.data;
  // NetShare issue #18: a checkpoint period longer than the run silently produced no checkpoint.
  if (cfg.checkpointEvery > cfg.iterations) {
    throw new ConfigError(
      expected(`a checkpoint period ≤ ${prefix}iterations (${cfg.iterations})`, `${prefix}checkpointEvery`, cfg.checkpointEvery),
      `${prefix}checkpointEvery`,
    );
  }
  return cfg;
}

/** A preset merged with overrides, validated. */
export function presetModelConfig(name: 'pcap' | 'netflow', overrides: ModelConfigInput = {}): ModelConfig {
  return parseModelConfig({ ...MODEL_PRESETS[name], ...overrides });
}
