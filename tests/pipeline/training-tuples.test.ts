// postprocess.trainingTuples "reject": the fill treats the training flows' 5-tuples as taken.
import { describe, expect, it } from 'vitest';
import { decodeChunkFromWorkdir, loadChunkTensors } from '../../src/pipeline/chunk-tensors.js';
import { uniqueTupleRows, writeTrainingTuples } from '../../src/pipeline/generate.js';
import { portSlices } from '../../src/pipeline/ephemeral-ports.js';
import { readTableFile } from '../../src/pipeline/workdir.js';
import { TupleSet } from '../../src/io/flow-key.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/schema.js';
import { preprocessedTiny } from './tiny-workdir.js';

describe('postprocess.trainingTuples "reject"', () => {
  it('writes every training 5-tuple once per stage; the fill keeps only generated 5-tuples that are not among them', async () => {
    // 60 flows: source ports 30000 + f, destination 80 / 443 / 53
    const { wd, layout, encoders } = await preprocessedTiny(60, 'ns-training-tuples-');
    const t = await loadChunkTensors(wd, 0);
    const A = layout.attributeDim;
    const F = layout.featureDim;
    const file = await writeTrainingTuples(wd, [0], layout);
    const table = await readTableFile(file);
    expect(table.length).toBe(t.n);
    const set = new TupleSet(table.length);
    for (let i = 0; i < table.length; i++) set.add(table, i);
    expect(set.size).toBe(t.n);
    // "generated" rows: 30 training flows verbatim, then 10 new 5-tuples (flow r's row with flow r+1's source port)
    const src = portSlices(layout).find((s) => s.column === 'srcPort')!;
    const rows = new Float32Array(40 * A);
    for (let r = 0; r < 30; r++) rows.set(t.attributes.subarray(r * A, (r + 1) * A), r * A);
    for (let r = 0; r < 10; r++) {
      rows.set(t.attributes.subarray(r * A, (r + 1) * A), (30 + r) * A);
      rows.set(t.attributes.subarray((r + 1) * A + src.offset, (r + 1) * A + src.offset + src.dim), (30 + r) * A + src.offset);
    }
    const dec = await decodeChunkFromWorkdir(wd, 0, { attributes: rows, features: new Float32Array(40 * F), valid: new Uint8Array(40).fill(1), n: 40, T: 1 }, encoders);
    let fresh = 0;
    for (let i = 30; i < 40; i++) if (!set.has(dec.table, i)) fresh++;
    expect(fresh).toBe(10); // the fixture's new rows are new 5-tuples
    expect((await uniqueTupleRows(wd, 0, rows, A, F, encoders)).length).toBe(40);
    expect(Array.from(await uniqueTupleRows(wd, 0, rows, A, F, encoders, { trainingTuples: { table, set } }))).toEqual([30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
  }, 60_000);
  it('is refused in DP mode (it reads the private flows at generation)', () => {
    // the DP bench config (data-independent encodings and ranges), valid as it is
    const raw = JSON.parse(readFileSync(join(__dirname, '../../bench/fidelity-dp-pcap.json'), 'utf8')) as Record<string, any>;
    raw.global.dp = { epsilon: 4 };
    raw.preprocess.dpRanges = { startTimeUs: 1e15, endTimeUs: 1e15 + 60e6, interarrivalS: [0, 1] };
    expect(parseConfig(raw).global.dp).toMatchObject({ epsilon: 4 });
    raw.postprocess = { trainingTuples: 'reject' };
    expect(() => parseConfig(raw)).toThrow(/postprocess\.trainingTuples/);
  });
  it('postprocess.flowLengths "calibrated" is refused in DP mode (it reads the private flow lengths) and with the arg-max stop flag', () => {
    const raw = JSON.parse(readFileSync(join(__dirname, '../../bench/fidelity-dp-netflow.json'), 'utf8')) as Record<string, any>;
    raw.global.dp = { epsilon: 4 };
    raw.preprocess.dpRanges = { startTimeUs: 1e15, endTimeUs: 1e15 + 60e6, interarrivalS: [0, 1] };
    expect(parseConfig(raw).postprocess.flowLengths).toBe('model');
    raw.postprocess = { ...raw.postprocess, stopFlag: 'sample', flowLengths: 'calibrated' };
    expect(() => parseConfig(raw)).toThrow(/postprocess\.flowLengths.*training flows' lengths at generation/s);
    raw.global.dp = false;
    expect(parseConfig(raw).postprocess.flowLengths).toBe('calibrated');
    raw.postprocess.stopFlag = 'argmax';
    expect(() => parseConfig(raw)).toThrow(/postprocess\.flowLengths.*stopFlag to "sample"/s);
  });
});

describe('one flow per 5-tuple over the whole trace', () => {
  it('a start whose 5-tuple started a flow in an earlier chunk is dropped; a continuation of that flow is kept', async () => {
    const { wd, layout, encoders } = await preprocessedTiny(60, 'ns-earlier-starts-');
    const t = await loadChunkTensors(wd, 0);
    const A = layout.attributeDim;
    const F = layout.featureDim;
    const tags = layout.attributes.find((a) => a.name === 'flow_tags')!;
    // "this chunk's" merged rows: flows 0-4 as continuations (startFromThisChunk 0), then flows 0-9 as starts
    const rows = new Float32Array(15 * A);
    for (let r = 0; r < 5; r++) {
      rows.set(t.attributes.subarray(r * A, (r + 1) * A), r * A);
      rows[r * A + tags.offset] = 1;
      rows[r * A + tags.offset + 1] = 0;
    }
    for (let r = 0; r < 10; r++) {
      rows.set(t.attributes.subarray(r * A, (r + 1) * A), (5 + r) * A);
      rows[(5 + r) * A + tags.offset] = 0;
      rows[(5 + r) * A + tags.offset + 1] = 1;
    }
    // flows 0-2 and 7 started in an earlier chunk
    const dec = await decodeChunkFromWorkdir(wd, 0, { attributes: t.attributes.slice(0, 10 * A), features: new Float32Array(10 * F), valid: new Uint8Array(10).fill(1), n: 10, T: 1 }, encoders);
    const set = new TupleSet(16);
    for (const f of [0, 1, 2, 7]) set.add(dec.table, f);
    const isStart = (r: number): boolean => rows[r * A + tags.offset + 1]! > rows[r * A + tags.offset]!;
    // without the earlier starts: the continuations 0-4, then the starts 5-9 (starts 0-4 repeat a continuation)
    expect(Array.from(await uniqueTupleRows(wd, 0, rows, A, F, encoders))).toEqual([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    // with them: the continuations stay (the same flows), start 7 (row 12) goes
    expect(Array.from(await uniqueTupleRows(wd, 0, rows, A, F, encoders, {}, { set, isStart }))).toEqual([0, 1, 2, 3, 4, 10, 11, 13, 14]);
  }, 60_000);
});
