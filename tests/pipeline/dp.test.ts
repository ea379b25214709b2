// `netshare run --dp` end to end on a tiny pcap: output written, ε/σ printed and in the manifest, equal to the
// accountant's composition of what ran; the DP config checks and the CLI's flag rules.
import { fmt } from '../../src/eval/report.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePcap } from '../../src/native/writer.js';
import type { PacketTable } from '../../src/io/table.js';
import { RdpAccountant } from '../../src/model/dp-accountant.js';
import { parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { resolveRunConfig } from '../../src/pipeline/run.js';
import { syntheticPackets, tinyConfig } from './helpers.js';
import { runCli } from '../cli/run-cli.js';

const T0 = 1_500_000_000_000_000; // syntheticPackets' first timestamp (µs)

/** The tiny pcap config made data-independent (fixed ranges, fixed choices, no word2vec, no share holdout). */
function dpConfig(dp: Record<string, unknown> | boolean = {}): Record<string, unknown> {
  const base = tinyConfig('pcap');
  return {
    ...base,
    global: { seed: 0, dataset: 'pcap', dp },
    // the presets reject training 5-tuples at generation, which reads the private flows: not under DP
    postprocess: { ...(base['postprocess'] as object | undefined), trainingTuples: 'keep' },
    preprocess: {
      ...(base['preprocess'] as object),
      holdoutShare: 0,
      dpRanges: { startTimeUs: T0, endTimeUs: T0 + 2.5e6, interarrivalS: [0, 1] },
      metadata: [
        { column: 'srcip', encoding: 'ipBits' },
        { column: 'dstip', encoding: 'ipBits' },
        { column: 'srcport', encoding: 'bits', nBits: 16 },
        { column: 'dstport', encoding: 'bits', nBits: 16 },
        { column: 'proto', encoding: 'categorical', choices: [6, 17] },
      ],
      timeseries: [
        { column: 'pkt_len', encoding: 'continuous', min: 20, max: 1500 },
        { column: 'tos', encoding: 'continuous', min: 0, max: 255 },
        { column: 'id', encoding: 'continuous', min: 0, max: 65535 },
        { column: 'flag', encoding: 'categorical', choices: [0, 1, 2] },
        { column: 'off', encoding: 'continuous', min: 0, max: 8191 },
        { column: 'ttl', encoding: 'continuous', min: 1, max: 255 },
      ],
    },
  };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('DP config', () => {
  it('needs exactly one of ε or σ; δ, C and the count noise default to NetShare`s / ours', () => {
    expect(configError(() => parseConfig(dpConfig(true))).key).toBe('global.dp.epsilon');
    expect(configError(() => parseConfig(dpConfig({ epsilon: 1, noiseMultiplier: 1 }))).message).toMatch(/exactly one of global.dp.epsilon or global.dp.noiseMultiplier/);
    expect(parseConfig(dpConfig({ epsilon: 2 })).global.dp).toEqual({ epsilon: 2, delta: 1e-5, clip: 1, countNoise: 20 });
    expect(parseConfig({ preset: 'pcap' }).global.dp).toBe(false);
  });

  it('refuses σ = 0 (no noise, ε = ∞: a DP run that protects nothing) and a negative σ', () => {
    for (const noiseMultiplier of [0, -1]) {
      const e = configError(() => parseConfig(dpConfig({ noiseMultiplier })));
      expect(e.key).toBe('global.dp.noiseMultiplier');
      expect(e.message).toMatch(/σ > 0/);
    }
    expect(configError(() => resolveRunConfig({ raw: dpConfig(false) }, { dp: { noiseMultiplier: 0 } })).key).toBe('global.dp.noiseMultiplier');
    expect(parseConfig(dpConfig({ noiseMultiplier: 0.5 })).global.dp).toMatchObject({ noiseMultiplier: 0.5 });
  });

  it('refuses what is not data-independent: word2vec, a share-based holdout, fixedSize chunks', () => {
    const w2v = dpConfig({ epsilon: 2 }) as { preprocess: { metadata: unknown[] } };
    w2v.preprocess.metadata[2] = { column: 'srcport', encoding: 'word2vecPort' };
    const e = configError(() => parseConfig(w2v));
    expect(e.key).toBe('preprocess.metadata.2.encoding');
    expect(e.message).toMatch(/word2vec is trained on the private records/);
    const held = dpConfig({ epsilon: 2 }) as { preprocess: Record<string, unknown> };
    held.preprocess['holdoutShare'] = 0.1;
    expect(configError(() => parseConfig(held)).key).toBe('preprocess.holdoutShare');
    const size = dpConfig({ epsilon: 2 }) as { preprocess: Record<string, unknown> };
    size.preprocess['chunking'] = 'fixedSize';
    expect(configError(() => parseConfig(size)).key).toBe('preprocess.chunking');
  });

  it('--dp --epsilon / --noise-multiplier replace the config`s ε or σ and keep its δ', () => {
    const raw = dpConfig({ noiseMultiplier: 3, delta: 1e-6 });
    expect(resolveRunConfig({ raw }, { dp: { epsilon: 5 } }).global.dp).toEqual({ epsilon: 5, delta: 1e-6, clip: 1, countNoise: 20 });
    expect(resolveRunConfig({ raw: dpConfig(false) }, { dp: { noiseMultiplier: 0.7 } }).global.dp).toMatchObject({ noiseMultiplier: 0.7 });
  });
});

describe('netshare run --dp (tiny pcap)', () => {
  let dir = '';
  let input = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ns-dp-run-'));
    input = join(dir, 'in.pcap');
    await writePcap(input, syntheticPackets(40, 2) as PacketTable);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const config = (dp: Record<string, unknown> | boolean): string => {
    const f = join(dir, `dp-${JSON.stringify(dp).replace(/\W/g, '')}.json`);
    writeFileSync(f, JSON.stringify(dpConfig(dp)));
    return f;
  };

  it('refuses --epsilon without --dp, and --dp on a config that is not data-independent', async () => {
    const a = await runCli(['run', '--input', input, '--config', config(false), '--workdir', join(dir, 'x'), '--epsilon', '3']);
    expect(a.code).not.toBe(0);
    expect(a.err).toMatch(/--epsilon needs --dp/);
    const b = await runCli(['run', '--input', input, '--preset', 'pcap', '--workdir', join(dir, 'y'), '--dp', '--epsilon', '3']);
    expect(b.code).not.toBe(0);
    expect(b.err).toMatch(/global.dp is on/);
  });

  it('--dp --noise-multiplier: writes the trace; the ε in --json and the manifest is the accountant`s over every critic step and flow count', async () => {
    const wd = join(dir, 'wd-sigma');
    const r = await runCli(['run', '--input', input, '--config', config(false), '--workdir', wd, '--workers', '1', '--dp', '--noise-multiplier', '1.1', '--no-downstream', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(wd, 'synthetic.pcap'))).toBe(true);
    const j = JSON.parse(r.out) as { dp: { epsilon: number; delta: number; noiseMultiplier: number; given: string; chunks: { chunk: number; flows: number; q: number; steps: number }[]; notPrivate: string[] } };
    expect(j.dp.given).toBe('noiseMultiplier');
    expect(j.dp.noiseMultiplier).toBe(1.1);
    // tiny config: 6 iterations × 1 critic round per chunk, batch 16
    expect(j.dp.chunks.map((c) => c.steps)).toEqual([6, 6]);
    const acc = new RdpAccountant();
    for (const c of j.dp.chunks) {
      expect(c.q).toBeCloseTo(Math.min(1, 16 / c.flows), 12);
      acc.compose({ label: '', q: c.q, sigma: 1.1, steps: 6 }).compose({ label: '', q: 1, sigma: 20, steps: 1 });
    }
    expect(j.dp.epsilon).toBe(acc.epsilon(1e-5).epsilon);
    expect(j.dp.notPrivate.length).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(wd, 'manifest.json'), 'utf8')) as { stages: { train: { outcome: { dp: { epsilon: number } } } } };
    expect(manifest.stages.train.outcome.dp.epsilon).toBe(j.dp.epsilon);
    // each chunk's released flow count is the noisy one, kept with the chunk's result
    const res = JSON.parse(readFileSync(join(wd, 'train', 'chunk-0', 'result.json'), 'utf8')) as { dpFlowCount?: number; final: { dLoss: number | null } };
    expect(typeof res.dpFlowCount).toBe('number');
    expect(res.dpFlowCount).not.toBe(j.dp.chunks[0]!.flows);
    expect(res.final.dLoss).toBeNull();
    // the report states the guarantee and every item ε does not cover
    const html = readFileSync(join(wd, 'report.html'), 'utf8');
    expect(html).toContain(`Differential privacy: (ε = ${fmt(j.dp.epsilon)}, δ = ${fmt(1e-5)})`);
    expect(html).toContain('Not covered by ε');
    for (const x of j.dp.notPrivate) expect(html).toContain(x.replace(/&/g, '&#38;').replace(/'/g, '&#39;').replace(/</g, '&#60;').replace(/>/g, '&#62;').replace(/"/g, '&#34;'));
  }, 240_000);

  it('--dp --epsilon: σ is derived, and the closing table prints the ε reached (≤ the target)', async () => {
    const wd = join(dir, 'wd-eps');
    const r = await runCli(['train', '--input', input, '--config', config(false), '--workdir', wd, '--workers', '1', '--dp', '--epsilon', '8']);
    expect(r.code, r.err).toBe(0);
    const m = /differential privacy: ε = ([\d.]+) \(reached with the derived σ per chunk, target 8\) at δ = 0.00001/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(8);
    expect(Number(m![1])).toBeGreaterThan(7.9);
    expect(r.out).toMatch(/noise multiplier σ per chunk \(derived by the accountant: each chunk's critic steps alone cost ε_c = [\d.]+\), clip C = 1/);
    expect(r.out).toMatch(/not covered by ε/);
    // σ per chunk in the manifest and the closing table; each chunk trained with its own σ, and the ε reached is the
    // accountant's over exactly those (q, σ, steps) and the counts
    const ledger = (JSON.parse(readFileSync(join(wd, 'manifest.json'), 'utf8')) as { stages: { train: { outcome: { dp: { epsilon: number; chunks: { chunk: number; flows: number; q: number; steps: number; noiseMultiplier: number }[] } } } } }).stages.train.outcome.dp;
    const acc = new RdpAccountant();
    for (const c of ledger.chunks) {
      const job = JSON.parse(readFileSync(join(wd, 'train', `chunk-${c.chunk}`, 'job.json'), 'utf8')) as { params: { dp: { noiseMultiplier: number } } };
      expect(job.params.dp.noiseMultiplier).toBe(c.noiseMultiplier);
      expect(r.out).toContain(`${c.q.toFixed(4)} `);
      expect(r.out).toContain(` ${c.noiseMultiplier.toFixed(4)} `);
      acc.compose({ label: '', q: c.q, sigma: c.noiseMultiplier, steps: c.steps }).compose({ label: '', q: 1, sigma: 20, steps: 1 });
    }
    expect(ledger.epsilon).toBe(acc.epsilon(1e-5).epsilon);
    expect(Number(m![1])).toBeCloseTo(ledger.epsilon, 4);
  }, 240_000);

  it('--public: pretrains without DP on the public trace, and every private chunk starts from that model', async () => {
    const pub = join(dir, 'public.pcap');
    await writePcap(pub, syntheticPackets(30, 1.5) as PacketTable);
    const no = await runCli(['train', '--input', input, '--config', config(false), '--workdir', join(dir, 'z'), '--public', pub]);
    expect(no.code).not.toBe(0);
    expect(no.err).toMatch(/--public .* needs --dp/);
    const wd = join(dir, 'wd-public');
    const r = await runCli(['train', '--input', input, '--config', config(false), '--workdir', wd, '--workers', '1', '--dp', '--noise-multiplier', '1', '--public', pub, '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { dp: { publicPretraining: { trace: string; chunk: number; iterations: number; checkpoint: string }; chunks: { chunk: number }[] } };
    const p = j.dp.publicPretraining;
    expect(p.trace).toBe(pub);
    expect(p.iterations).toBe(6);
    expect(p.checkpoint.startsWith('train/public/')).toBe(true);
    expect(existsSync(join(wd, p.checkpoint))).toBe(true);
    for (const c of j.dp.chunks) {
      const job = JSON.parse(readFileSync(join(wd, 'train', `chunk-${c.chunk}`, 'job.json'), 'utf8')) as { params: { initFrom?: string; dp?: unknown } };
      expect(job.params.initFrom).toBe(p.checkpoint);
      expect(job.params.dp).toBeDefined();
    }
  }, 240_000);
});
