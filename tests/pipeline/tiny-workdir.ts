// A preprocessed one-chunk workdir of syntheticPackets (no shared data), for tests of the generate stage's pieces.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetShareConfig } from '../../src/config/schema.js';
import type { EncoderSet, Layout } from '../../src/encode/tensors.js';
import { writePcap } from '../../src/native/writer.js';
import { loadEncoders, loadLayout } from '../../src/pipeline/chunk-tensors.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

/** `flows` synthetic flows (source ports 30000 + f, destination ports 80 / 443 / 53) preprocessed as one chunk with the tiny pcap config. */
export async function preprocessedTiny(flows: number, prefix: string): Promise<{ wd: string; cfg: NetShareConfig; layout: Layout; encoders: EncoderSet }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const input = join(dir, 'in.pcap');
  await writePcap(input, syntheticPackets(flows, 2));
  const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1 }) }, { holdoutShare: 0 });
  const wd = join(dir, 'wd');
  await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', executor: new InProcessExecutor(1), workers: 1 });
  return { wd, cfg, layout: await loadLayout(wd), encoders: await loadEncoders(wd) };
}
