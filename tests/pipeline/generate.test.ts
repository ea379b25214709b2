// The generate stage's fill (sampling attributes in passes until the asked number of unique 5-tuples exists) and its
// checkpoint choice on samples: helpers as properties, then tiny runs on NetShare's UGR16 1k sample.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { apportion, generateChunkJob, generateStage, mergeByFlowTags, startingRows, type GenerateStageResult } from '../../src/pipeline/generate.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { loadChunkLengths, loadEncoders, loadLayout, loadPreprocessSummary } from '../../src/pipeline/chunk-tensors.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { workdirIdentity } from '../../src/pipeline/lease.js';
import { chunkRealRows } from '../../src/pipeline/postprocess.js';
import { readTrace } from '../../src/io/read-trace.js';
import { tinyConfig } from './helpers.js';
import { trainedChunk } from '../../src/pipeline/train.js';
import { attrCleanPath, inWorkdir, readF32, relativeToWorkdir } from '../../src/pipeline/workdir.js';
import { EmbeddingEncoder } from '../../src/encode/fields.js';
import { loadCheckpoint } from '../../src/pipeline/checkpoints.js';
import { sample } from '../../src/model/index.js';
import { SELECTION_BUDGET_FLOWS, SELECTION_MIN_FLOWS, SELECTION_SAMPLE_FLOWS, selectionSampleSize } from '../../src/pipeline/generate-settings.js';

const UGR = '/work/shared/data/netflow/ugr16-netshare-1k.csv';

describe('selectionSampleSize', () => {
  it('caps each checkpoint at SELECTION_SAMPLE_FLOWS and the chunk at SELECTION_BUDGET_FLOWS, down to SELECTION_MIN_FLOWS', () => {
    expect(selectionSampleSize(1)).toBe(SELECTION_SAMPLE_FLOWS);
    expect(selectionSampleSize(2)).toBe(SELECTION_SAMPLE_FLOWS);
    expect(selectionSampleSize(4)).toBe(SELECTION_BUDGET_FLOWS / 4);
    expect(selectionSampleSize(6) * 6).toBeLessThanOrEqual(SELECTION_BUDGET_FLOWS);
    expect(selectionSampleSize(100)).toBe(SELECTION_MIN_FLOWS);
    // an explicit cap below the floor is kept (tests sample 40 flows)
    expect(selectionSampleSize(10, 40)).toBe(40);
  });
});

describe('apportion', () => {
  it('sums to the total, stays within one of the exact share, and gives nothing to zero weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 12 }), (total, w) => {
        const out = apportion(total, w);
        expect(out.reduce((a, b) => a + b, 0)).toBe(total);
        const sum = w.reduce((a, b) => a + b, 0);
        if (sum === 0) return;
        out.forEach((x, i) => {
          expect(Math.abs(x - (total * w[i]!) / sum)).toBeLessThan(1);
          if (w[i] === 0) expect(x).toBe(0);
        });
      }),
    );
  });
});

describe('startingRows', () => {
  it('keeps exactly the rows mergeByFlowTags keeps as starting in their chunk', () => {
    // A = 1 value + tags [start(2), chunk_0(2), chunk_1(2), chunk_2(2)]
    const A = 9;
    const tags = { start: 1, chunk: (i: number) => 3 + 2 * i };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()), { maxLength: 40 }), fc.integer({ min: 0, max: 2 }), (flags, c) => {
        const rows = new Float32Array(flags.length * A);
        flags.forEach((f, r) => {
          rows[r * A] = r;
          f.forEach((on, g) => {
            rows[r * A + 1 + 2 * g] = on ? 0 : 1;
            rows[r * A + 2 + 2 * g] = on ? 1 : 0;
          });
        });
        const kept = startingRows(rows, A, tags, c);
        const merged = mergeByFlowTags(new Map([[c, rows]]), A, tags).get(c)!;
        expect(Array.from(kept)).toEqual(Array.from(merged));
      }),
    );
  });
});

describe.skipIf(!existsSync(UGR))(`generation on ${UGR} (skipped when the file is absent)`, () => {
  it('asks for the real starting flows (or --flows), reports unique/asked and passes, warns with numbers when short', async () => {
    for (const flows of [undefined, 300]) {
      const wd = mkdtempSync(join(tmpdir(), 'ns-gen-'));
      const warnings: string[] = [];
      const config = resolveRunConfig({ raw: tinyConfig('netflow') });
      await runPipeline({ input: UGR, workdir: wd, config, workers: 1, downstream: false, privacy: false, to: 'postprocess', ...(flows ? { flows } : {}), events: { warn: (m) => warnings.push(m) } });
      const m = await loadManifest(wd);
      const gen = m.stages.generate!.outcome as GenerateStageResult;
      const fill = gen.fill!;
      if (flows) expect(fill.asked).toBe(flows);
      else {
        expect(fill.asked).toBeGreaterThan(500); // the real flows starting in their chunk (~1k records)
        // the held-out share of the input counts too: the output has the input's size, not the training part's
        const h = (await loadPreprocessSummary(wd)).holdout;
        expect(h?.source).toBe('flows');
        if (h?.source === 'flows') {
          expect(h.heldOutFlows).toBeGreaterThan(0);
          expect(fill.asked / h.flows).toBeGreaterThan(0.95);
          expect(fill.asked / h.flows).toBeLessThan(1.05);
        }
      }
      expect(fill.chunks.reduce((a, c) => a + c.asked, 0)).toBe(fill.asked);
      expect(fill.unique).toBeLessThanOrEqual(fill.asked);
      expect(fill.share).toBeCloseTo(fill.unique / fill.asked, 12);
      expect(fill.passes).toBeGreaterThanOrEqual(1);
      expect(fill.passes).toBeLessThanOrEqual(fill.maxPasses);
      expect(fill.sampled).toBeGreaterThanOrEqual(Math.ceil(1.25 * fill.asked) - fill.chunks.length);
      // features were generated for the unique rows, one per start and continuation
      expect(gen.chunks.reduce((a, c) => a + c.mergedFlows[0]!, 0)).toBeGreaterThanOrEqual(fill.unique);
      if (fill.short) expect(warnings.some((w) => w.includes(`${fill.unique} unique 5-tuples of the ${fill.asked} flows`))).toBe(true);
      else {
        expect(fill.unique).toBe(fill.asked);
        expect(warnings.filter((w) => w.includes('unique 5-tuples'))).toEqual([]);
      }
    }
  }, 180_000);

  it('chooses each checkpoint on a sample, records the scores, and generates only the chosen one in full', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-gen-'));
    const config = resolveRunConfig({ raw: tinyConfig('netflow', { iterations: 9 }) });
    await runPipeline({ input: UGR, workdir: wd, config, workers: 1, downstream: false, privacy: false, to: 'train' });
    const summary = await loadPreprocessSummary(wd);
    const real = (await readTrace(UGR)).table;
    const executor = new InProcessExecutor(1);
    const scope = await workdirIdentity(wd);
    const base = { workdir: wd, config, executor, scope, realChunk: async (j: number) => chunkRealRows(real, summary, j) };
    const bytes = (r: GenerateStageResult) => r.candidates.map((c) => readFileSync(c.path).toString('base64'));
    // more flows than the attribute files could hold on this disk: refused before anything is sampled, with the sizes
    const jobsBefore = existsSync(join(wd, 'jobs.jsonl')) ? readFileSync(join(wd, 'jobs.jsonl'), 'utf8') : '';
    const err = await generateStage({ ...base, flows: 1e12 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('flows');
    expect(String(err)).toMatch(/generating 1000000000000 flows needs about [\d.]+ GiB of scratch space under .*generate \(attribute rows of \d+ bytes.*GiB is free: ask for fewer flows than --flows 1000000000000/);
    expect(existsSync(join(wd, 'jobs.jsonl')) ? readFileSync(join(wd, 'jobs.jsonl'), 'utf8') : '').toBe(jobsBefore);
    // batches of 10 flows: the sample of 40 is the first four batches of each chunk's (shuffled) rows
    const small = await generateStage({ ...base, selectionSampleFlows: 40, sampleBatch: 10, keepIntermediates: true });
    // read now: every generate run replaces <wd>/generate
    const smallBytes = bytes(small);
    // the fill snapped the port/protocol embeddings of the rows it kept to vocabulary vectors: the features were
    // conditioned on them, and decoding them again is a lookup, not a search
    const layout = await loadLayout(wd);
    const encoders = await loadEncoders(wd);
    let off = 0;
    let embeddingFields = 0;
    for (const e of encoders.metadata) {
      if (e instanceof EmbeddingEncoder) {
        embeddingFields++;
        const index = e.nearestIndex();
        for (const k of summary.chunks) {
          const rows = await readF32(attrCleanPath(wd, k, 0));
          for (let r = 0; r < rows.length / layout.attributeDim; r++) expect(index.exactHit(rows, r * layout.attributeDim + off)).toBeGreaterThanOrEqual(0);
        }
      }
      off += e.dim;
    }
    expect(embeddingFields).toBe(2); // srcport, dstport (the preset's protocol is a categorical)
    const sel = small.selection!;
    expect(sel.sampleFlows).toBe(40);
    expect(sel.chunks.length).toBeGreaterThan(0);
    expect(sel.chunks.some((c) => c.flows > 40)).toBe(true);
    for (const c of sel.chunks) {
      expect(c.sampleFlows).toBe(Math.min(40, c.flows));
      const its = c.ranking.candidates.map((x) => x.iteration);
      expect(its.length).toBeGreaterThan(1);
      expect([...its].sort((a, b) => a - b)).toEqual(its);
      expect(its).toContain(c.ranking.best);
      expect(c.ranking.selectedBy.rule).toBe('rank-sum');
      // the full output exists for the chosen checkpoint only
      expect(small.candidates.filter((x) => x.chunk === c.chunk).map((x) => x.iteration)).toEqual([c.ranking.best]);
      const full = small.candidates.find((x) => x.chunk === c.chunk)!;
      expect(full.flows).toBe(c.flows);
    }
    // the netflow preset calibrates flow lengths: each candidate carries its shifts (one per record) and what they matched
    for (const c of small.candidates) {
      const cal = c.lengthCalibration!;
      const real = await loadChunkLengths(wd, c.chunk);
      expect(cal.bias).toHaveLength(summary.maxLen);
      expect(cal.realFlows).toBe(real.length);
      expect(cal.target).toBeCloseTo(real.reduce((a, b) => a + b, 0) / real.length, 10);
      expect(cal.after).toBeCloseTo(cal.target, 3);
    }
    // the same seed gives the same choice and bytes; the old way (every checkpoint in full) keeps all candidates
    // without keepIntermediates the accepted rows are gone once merged (their starts' records stay for the unique
    // jobs), and every chunk's unique job is submitted at once: seen from the executor
    const atUnique: { chunk: number; batch: number; acceptedRows: string[]; starts: number }[] = [];
    let batches = 0;
    const watched = {
      name: executor.name,
      close: () => executor.close(),
      runAll: (jobs: Parameters<typeof executor.runAll>[0], events?: Parameters<typeof executor.runAll>[1]) => {
        batches++;
        for (const jb of jobs) {
          const m = /^generate\/unique\/chunk-(\d+)\//.exec(jb.id);
          if (!m) continue;
          const dir = join(wd, 'generate', 'attr-accepted');
          const files = existsSync(dir) ? readdirSync(dir) : [];
          const earlier = (jb.params as { uniqueTuples: { earlier?: { path: string; rows: number }[] } }).uniqueTuples.earlier ?? [];
          for (const e of earlier) expect(existsSync(join(wd, e.path))).toBe(true);
          atUnique.push({ chunk: Number(m[1]), batch: batches, acceptedRows: files.filter((f) => f.endsWith('.f32')), starts: earlier.length });
        }
        return executor.runAll(jobs, events);
      },
    };
    const again = await generateStage({ ...base, executor: watched, selectionSampleFlows: 40, sampleBatch: 10 });
    expect(atUnique.length).toBe(summary.chunks.length);
    for (const u of atUnique) expect(u.acceptedRows).toEqual([]);
    expect(new Set(atUnique.map((u) => u.batch)).size).toBe(1);
    // each chunk checks the starts of every chunk before it (the jobs handed out longest first: the later chunks,
    // which check more starts, before the earlier ones)
    expect([...atUnique].sort((a, b) => a.chunk - b.chunk).map((u) => u.starts)).toEqual(summary.chunks.map((_, j) => j));
    // without keepIntermediates the spent attribute files and samples are gone; the candidates stay
    for (const d of ['attr-accepted', 'attr-merged', 'attr-clean', 'selection']) expect(existsSync(join(wd, 'generate', d))).toBe(false);
    for (const c of again.candidates) expect(existsSync(c.path)).toBe(true);
    expect(again.selection!.chunks.map((c) => c.ranking.best)).toEqual(sel.chunks.map((c) => c.ranking.best));
    expect(bytes(again)).toEqual(smallBytes);
    // what the stage derives from the preprocessed chunks alone is kept between its runs, keyed by those files: a
    // rewritten chunk file (the same bytes here) is read anew, with the same answers
    const derivedFile = join(wd, 'preprocess', 'derived', 'derived.json');
    const kept = JSON.parse(readFileSync(derivedFile, 'utf8')) as { key: string; realStarts: number[]; tuples: boolean };
    expect(kept.realStarts.length).toBe(summary.chunks.length);
    expect(kept.tuples).toBe(true);
    const attrs = join(wd, 'preprocess', `chunk-${summary.chunks[0]}`, 'attributes.f32');
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(attrs, readFileSync(attrs));
    const rederived = await generateStage({ ...base, selectionSampleFlows: 40, sampleBatch: 10 });
    const now = JSON.parse(readFileSync(derivedFile, 'utf8')) as typeof kept;
    expect(now.key).not.toBe(kept.key);
    expect(now.realStarts).toEqual(kept.realStarts);
    expect(bytes(rederived)).toEqual(smallBytes);
    // flow ranges: a chunk split into jobs of 100 flows gives the bytes of one job per chunk (noise drawn per batch of 50)
    const whole = await generateStage({ ...base, selectionSampleFlows: 40, sampleBatch: 50 });
    const wholeBytes = bytes(whole);
    const split = await generateStage({ ...base, selectionSampleFlows: 40, sampleBatch: 50, rangeFlows: 100 });
    expect(Math.max(...whole.candidates.map((c) => c.flows))).toBeGreaterThan(100);
    expect(split.candidates.map((c) => [c.chunk, c.iteration, c.records, c.flows])).toEqual(whole.candidates.map((c) => [c.chunk, c.iteration, c.records, c.flows]));
    expect(bytes(split)).toEqual(wholeBytes);
    // the driver assembles a candidate as soon as its ranges are done (reported job by job); an executor that reports
    // none (no onDone) gets them assembled after the phase: the same bytes either way, no range file left behind
    const quiet = {
      name: executor.name,
      close: () => executor.close(),
      runAll: (jobs: Parameters<typeof executor.runAll>[0], events?: Parameters<typeof executor.runAll>[1]) => executor.runAll(jobs, events?.signal ? { signal: events.signal } : {}),
    };
    const splitQuiet = await generateStage({ ...base, executor: quiet, selectionSampleFlows: 40, sampleBatch: 50, rangeFlows: 100 });
    expect(bytes(splitQuiet)).toEqual(wholeBytes);
    expect(readdirSync(join(wd, 'generate'), { recursive: true }).filter((f) => /\.part-?\d+/.test(String(f)))).toEqual([]);
    // a different batch size draws different noise: the comparison above can fail
    expect(wholeBytes).not.toEqual(smallBytes);
    // the fill's attribute job runs the attribute generator alone: its rows are the discrete attributes the full
    // generator (features too) draws for the same checkpoint and seed, so only the sampling cost changed
    const ck = inWorkdir(wd, (await trainedChunk(wd, summary.chunks[0]!)).lastCheckpoint);
    const job = { chunk: summary.chunks[0]!, pass: 0, checkpoint: relativeToWorkdir(wd, ck), iteration: -1, seed: 11, device: 'cpu' as const, n: 2100 };
    await generateChunkJob({ ...job, attributesOnly: { out: 'generate/attr-only-test.f32' } }, { workdir: wd, threads: 1, progress: () => {} });
    const viaJob = await readF32(join(wd, 'generate', 'attr-only-test.f32'));
    const viaFull = await sample({ checkpoint: await loadCheckpoint(ck), n: 2100, seed: 11, threads: 1 });
    expect(viaJob.length).toBe(viaFull.attributesDiscrete.length);
    expect(viaJob).toEqual(viaFull.attributesDiscrete);
    // sampled in blocks of 1,000 rows (three calls, the last of 100): the same rows
    await generateChunkJob({ ...job, blockRows: 1000, attributesOnly: { out: 'generate/attr-only-blocks.f32' } }, { workdir: wd, threads: 1, progress: () => {} });
    expect(await readF32(join(wd, 'generate', 'attr-only-blocks.f32'))).toEqual(viaFull.attributesDiscrete);
    // the fill's job (accept without `raw`: it samples its rows itself) writes what an attribute job then an accept
    // job write, with the netflow policies (drawn categoricals and bins) and a second pass on the first one's rows
    const ctx1 = { workdir: wd, threads: 1, progress: () => {} };
    const pol = { categoricals: 'sample' as const, flowStartBin: 'sample' as const };
    await generateChunkJob({ ...job, ...pol, attributesOnly: { out: 'generate/fused-raw.f32' } }, ctx1);
    const two = (await generateChunkJob({ ...job, ...pol, checkpoint: '', accept: { raw: 'generate/fused-raw.f32', out: 'generate/fused-two.f32', startsOut: 'generate/fused-two.nstable' } }, ctx1)) as { accepted: number };
    const one = (await generateChunkJob({ ...job, ...pol, accept: { out: 'generate/fused-one.f32', startsOut: 'generate/fused-one.nstable' } }, ctx1)) as { accepted: number };
    expect(one).toEqual(two);
    expect(one.accepted).toBeGreaterThan(0);
    expect(readFileSync(join(wd, 'generate', 'fused-one.f32')).equals(readFileSync(join(wd, 'generate', 'fused-two.f32')))).toBe(true);
    const again2 = { ...job, ...pol, seed: 12, accept: { prev: 'generate/fused-one.f32', prevStarts: 'generate/fused-one.nstable', out: 'generate/fused-one-2.f32' } };
    const second = (await generateChunkJob(again2, ctx1)) as { accepted: number; added: number };
    expect(second.accepted - second.added).toBe(one.accepted);
    // without n or a checkpoint there is nothing to sample: refused, naming the key
    await expect(generateChunkJob({ ...job, n: undefined, accept: { out: 'generate/fused-none.f32' } }, ctx1)).rejects.toThrow(/accept job without `raw`.*needs `n` and `checkpoint`/);
    const full = await generateStage({ ...base, selectOn: 'full', sampleBatch: 10 });
    expect(full.selection).toBeUndefined();
    for (const c of small.chunks) expect(full.candidates.filter((x) => x.chunk === c.chunk).length).toBe(c.candidates);
    // the chosen checkpoint's sample was reused as the first flows of its full candidate: the bytes of generating it whole
    const fullBytes = new Map(full.candidates.map((c) => [`${c.chunk}/${c.iteration}`, readFileSync(c.path).toString('base64')]));
    small.candidates.forEach((c, i) => expect(fullBytes.get(`${c.chunk}/${c.iteration}`)).toBe(smallBytes[i]));
    await executor.close();
  }, 180_000);

  it('a fill pass split in parts (a job each, then a combine job per chunk) accepts the rows of one job, bit for bit', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ns-gen-split-'));
    const config = resolveRunConfig({ raw: tinyConfig('netflow', { iterations: 9 }) });
    await runPipeline({ input: UGR, workdir: wd, config, workers: 1, downstream: false, privacy: false, to: 'train' });
    const executor = new InProcessExecutor(1);
    const ids: string[] = [];
    const watched = {
      name: executor.name,
      close: () => executor.close(),
      runAll: (jobs: Parameters<typeof executor.runAll>[0], events?: Parameters<typeof executor.runAll>[1]) => {
        ids.push(...jobs.map((j) => j.id));
        return executor.runAll(jobs, events);
      },
    };
    const base = { workdir: wd, config, executor: watched, scope: await workdirIdentity(wd), flows: 6000, sampleBatch: 10, selectOn: 'full' as const, maxFillPasses: 3 };
    const run = async (partRows: number): Promise<{ r: GenerateStageResult; bytes: string[] }> => {
      const r = await generateStage({ ...base, fillSplit: { partRows, blockRows: 1000 } });
      return { r, bytes: r.candidates.map((c) => readFileSync(c.path).toString('base64')) };
    };
    const whole = await run(1e9);
    expect(ids.some((id) => /\/combine$/.test(id))).toBe(false);
    ids.length = 0;
    const parts = await run(2000);
    // parts of 2,000 rows: every chunk's first pass is split (several part jobs each), and combined
    expect(ids.filter((id) => /^generate\/fill\/chunk-\d+\/p0\/f0\/rows-\d+-\d+$/.test(id)).length).toBeGreaterThan(whole.r.fill!.chunks.length);
    expect(ids.filter((id) => /\/f0\/combine$/.test(id)).length).toBe(whole.r.fill!.chunks.length);
    expect(parts.r.fill).toEqual(whole.r.fill);
    expect(parts.r.chunks).toEqual(whole.r.chunks);
    expect(parts.bytes).toEqual(whole.bytes);
    // no part file is left behind
    const left = readdirSync(join(wd, 'generate'), { recursive: true }).map(String).filter((f) => f.includes('.part-'));
    expect(left).toEqual([]);
    // a part must start on a sampling block
    const ckpt = relativeToWorkdir(wd, (await trainedChunk(wd, 0)).lastCheckpoint);
    await expect(generateChunkJob({ chunk: 0, pass: 0, checkpoint: ckpt, iteration: -1, seed: 1, device: 'cpu', n: 10, sampleFrom: 500, blockRows: 1000, accept: { out: 'generate/x.f32' } }, { workdir: wd, threads: 1, progress: () => undefined })).rejects.toThrow(/multiple of the sampling block \(1000 rows\).*sampleFrom.*500/);
    await executor.close();
  }, 180_000);
});
