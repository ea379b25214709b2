// The held-out real records of a run: a seeded share of the input's 5-tuple flows set aside in preprocess, before
// chunking, encoders and word2vec see the data, or a separate file of real records; evaluation tests against them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { Rng } from '../core/rng.js';
import { indexFlows } from '../io/flow-key.js';
import { takeRows } from '../io/rows.js';
import type { Table } from '../io/table.js';
import { writeFileAtomic } from '../io/atomic.js';
import { preprocessDir, type PreprocessSummaryFile } from './chunk-tensors.js';
import { readTableFile, writeTableFile } from './workdir.js';

/**
 * A trace with fewer 5-tuple flows than this holds none out: with ~10% held out it would leave one or two flows to
 * test with, and take flows a tiny training set needs (NetShare's examples and the test traces have 40+ flows).
 */
export const MIN_HOLDOUT_FLOWS = 20;

/** Version of the split rule below; part of the preprocess fingerprint, so a change re-preprocesses. */
export const HOLDOUT_SPLIT_VERSION = 1;

/** How the input was split into training and held-out records (preprocess summary, `holdout`). */
export type HoldoutInfo =
  | {
      source: 'flows';
      /** The configured share (preprocess.holdoutShare) and the flows it chose: round(share × flows), at least 1. */
      share: number;
      flows: number;
      heldOutFlows: number;
      records: number;
      trainRecords: number;
      file: string;
      rowsFile: string;
    }
  | { source: 'file'; path: string; sha256: string; records: number; trainRecords: number; file: string }
  | { source: 'none'; reason: string; trainRecords: number };

/** Record indices (input order) of the training and held-out sides, and what was held out. */
export interface HoldoutSplit {
  trainRows: Uint32Array;
  holdoutRows: Uint32Array;
  flows: number;
  heldOutFlows: number;
  /** Why nothing was held out (share 0, too few flows); absent when something was. */
  reason?: string;
}

/**
 * Hold out round(share × flows) of the input's 5-tuple flows (at least one), chosen uniformly without replacement
 * from stream `preprocess/holdout` of `seed`; every record of a chosen flow is held out. Nothing is held out for
 * share 0 or under MIN_HOLDOUT_FLOWS flows. Both sides keep the input's record order.
 */
export function splitHoldout(t: Table, share: number, seed: number): HoldoutSplit {
  const idx = indexFlows(t);
  const all = (reason: string): HoldoutSplit => ({ trainRows: Uint32Array.from({ length: t.length }, (_, i) => i), holdoutRows: new Uint32Array(0), flows: idx.count, heldOutFlows: 0, reason });
  if (!(share > 0)) return all('preprocess.holdoutShare is 0');
  if (idx.count < MIN_HOLDOUT_FLOWS) return all(`the input has ${idx.count} 5-tuple flows, fewer than the ${MIN_HOLDOUT_FLOWS} needed to hold any out`);
  const k = Math.min(idx.count - 1, Math.max(1, Math.round(share * idx.count)));
  const r = Rng.forPurpose(seed, 'preprocess/holdout');
  const perm = Int32Array.from({ length: idx.count }, (_, i) => i);
  const held = new Uint8Array(idx.count);
  for (let i = 0; i < k; i++) {
    const j = i + r.int(idx.count - i);
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
    held[perm[i]!] = 1;
  }
  let nh = 0;
  for (let i = 0; i < t.length; i++) nh += held[idx.flowOf[i]!]!;
  const trainRows = new Uint32Array(t.length - nh);
  const holdoutRows = new Uint32Array(nh);
  let a = 0;
  let b = 0;
  for (let i = 0; i < t.length; i++) {
    if (held[idx.flowOf[i]!]) holdoutRows[b++] = i;
    else trainRows[a++] = i;
  }
  return { trainRows, holdoutRows, flows: idx.count, heldOutFlows: k };
}

export const holdoutTablePath = (wd: string): string => join(preprocessDir(wd), 'holdout.nstable');
export const holdoutRowsPath = (wd: string): string => join(preprocessDir(wd), 'holdout-rows.u32');

/** Write the held-out records (and, for a flow split, their input row indices) into `<wd>/preprocess/`. */
export async function saveHoldout(wd: string, holdout: Table, rows?: Uint32Array): Promise<void> {
  await writeTableFile(holdoutTablePath(wd), holdout);
  if (rows) await writeFileAtomic(holdoutRowsPath(wd), new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
}

/**
 * The input's training records and the held-out records of a preprocessed workdir. `input` is the input trace read
 * again (the workdir checks its bytes are the ones preprocessed): the flow split's held-out rows are taken out of it.
 */
export async function loadRealSides(wd: string, input: Table, summary: Pick<PreprocessSummaryFile, 'records' | 'holdout'>): Promise<{ train: Table; holdout?: Table }> {
  const h = summary.holdout;
  if (!h || h.source === 'none') return { train: input };
  const holdout = await readTableFile(holdoutTablePath(wd));
  if (h.source === 'file') return { train: input, holdout };
  const path = holdoutRowsPath(wd);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (run \`netshare preprocess\` again)`, path);
  }
  const rows = new Uint32Array(buf.length >> 2);
  new Uint8Array(rows.buffer).set(buf.subarray(0, rows.length * 4));
  if (buf.length % 4 !== 0 || rows.length !== h.records || input.length !== summary.records || rows.some((v) => v >= input.length)) {
    throw new InputError(`${path} does not match the input (${rows.length} held-out rows of ${input.length} records; preprocess saw ${h.records} of ${summary.records}); run \`netshare preprocess\` again`, path);
  }
  const held = new Uint8Array(input.length);
  for (const i of rows) held[i] = 1;
  const trainRows = new Uint32Array(input.length - rows.length);
  let a = 0;
  for (let i = 0; i < input.length; i++) if (!held[i]) trainRows[a++] = i;
  return { train: takeRows(input, trainRows), holdout };
}
