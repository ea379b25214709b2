// `netshare run` / `train` / `generate` through the CLI: config errors before any work, kill-and-resume, and the
// train-then-generate split on one workdir.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writePcap } from '../../src/native/writer.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { concatTables } from '../../src/io/rows.js';
import { readTrace } from '../../src/io/read-trace.js';
import type { PacketTable } from '../../src/io/table.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

const BIN = resolve(__dirname, '../../dist/src/cli/bin.js');
const WORKER = resolve(__dirname, '../../dist/src/pipeline/job-worker.js');
const HAVE_DIST = existsSync(BIN) && existsSync(WORKER);

let dir: string;
let input: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ns-run-'));
  input = join(dir, 'in.pcap');
  await writePcap(input, syntheticPackets(40, 2));
});

/** Run the CLI in-process, capturing stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main(args);
    return { code, stderr };
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

function configFile(name: string, cfg: Record<string, unknown>): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(cfg));
  return f;
}

describe('config errors are reported before any work starts', () => {
  it('an unknown key: exit 2, names the key, no workdir', async () => {
    const cfg = tinyConfig('pcap');
    (cfg.preprocess as Record<string, unknown>).nChunkz = 3;
    const wd = join(dir, 'wd-unknown');
    const r = await cli(['run', '--input', input, '--config', configFile('unknown.json', cfg), '--workdir', wd, '--workers', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ConfigError.*preprocess\.nChunkz/);
    expect(existsSync(wd)).toBe(false);
  });

  it('a checkpoint period above the iterations: exit 2, names model.checkpointEvery, no workdir', async () => {
    const wd = join(dir, 'wd-ckpt');
    const r = await cli(['run', '--input', input, '--preset', 'pcap', '--iterations', '10', '--checkpoint-every', '20', '--workdir', wd]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model\.checkpointEvery/);
    expect(existsSync(wd)).toBe(false);
  });

  it('more chunks than non-empty time slices: exit 2, names preprocess.nChunks, nothing trained', async () => {
    const a = syntheticPackets(10, 0.1);
    const b = syntheticPackets(10, 0.1);
    for (let i = 0; i < b.length; i++) b.time[i] = b.time[i]! + 2e6;
    const gappy = join(dir, 'gappy.pcap');
    await writePcap(gappy, concatTables('packets', [a, b]) as PacketTable);
    const wd = join(dir, 'wd-gappy');
    const r = await cli(['run', '--input', gappy, '--config', configFile('gappy.json', tinyConfig('pcap')), '--chunks', '4', '--workdir', wd, '--workers', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/only 2 of the 4 fixedTime time slices.*preprocess\.nChunks/);
    // refused right after chunking: no encoder fitted, no tensor written, nothing trained
    expect(existsSync(join(wd, 'preprocess', 'encoders.json'))).toBe(false);
    expect(existsSync(join(wd, 'train'))).toBe(false);
  });

  it('an unknown preset and a bad --workers are usage errors', async () => {
    expect((await cli(['run', '--input', input, '--preset', 'nope', '--workdir', join(dir, 'x')])).code).toBe(2);
    expect((await cli(['run', '--input', input, '--workdir', join(dir, 'y'), '--workers', '0', '--config', configFile('w.json', tinyConfig('pcap'))])).code).toBe(2);
    expect(existsSync(join(dir, 'y', 'train'))).toBe(false);
  });
});

describe.skipIf(!HAVE_DIST)('kill and resume (skipped when dist/ is not built: run `npm run build:ts`)', () => {
  it('a run killed during training resumes from the last checkpoint and skips the finished stages', async () => {
    const wd = join(dir, 'wd-kill');
    const cfg = configFile('kill.json', tinyConfig('pcap', { iterations: 80, checkpointEvery: 40 }));
    const out = join(dir, 'kill.pcap');
    const args = ['run', '--input', input, '--config', cfg, '--workdir', wd, '--out', out, '--workers', '1', '--no-downstream', '--no-privacy'];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    const ck = join(wd, 'train', 'chunk-0', 'checkpoints', 'ckpt-000000040.nsckpt');
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const t0 = Date.now();
    while (!existsSync(ck) && Date.now() - t0 < 90_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(ck)).toBe(true);
    const killed = await loadManifest(wd);
    expect(killed.stages.preprocess!.status).toBe('done');
    expect(killed.stages.train!.status).toBe('running');
    expect(existsSync(join(wd, 'train', 'chunk-0', 'result.json'))).toBe(false);
    expect(existsSync(out)).toBe(false);

    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/preprocess: already done/);
    const m = await loadManifest(wd);
    expect(m.stages.preprocess!.startedAt).toBe(killed.stages.preprocess!.startedAt);
    for (const s of ['train', 'generate', 'postprocess', 'evaluate']) expect(m.stages[s]!.status).toBe('done');
    const res = JSON.parse(readFileSync(join(wd, 'train', 'chunk-0', 'result.json'), 'utf8')) as { resumedFrom?: number; iterations: number };
    expect(res.resumedFrom).toBe(40);
    expect(res.iterations).toBe(80);
    expect(existsSync(out)).toBe(true);
  }, 150_000);
});

describe('train, then generate on the same workdir', () => {
  it('generate reads the workdir config, needs a trained workdir, and writes --out', async () => {
    const wd = join(dir, 'wd-split');
    const cfg = configFile('split.json', tinyConfig('pcap', { nChunks: 1, iterations: 4, checkpointEvery: 2 }));
    const early = await cli(['generate', '--workdir', wd, '--out', join(dir, 'early.pcap')]);
    expect(early.code).toBe(3);
    expect(early.stderr).toMatch(/no config\.json/);
    const t = await cli(['train', '--input', input, '--config', cfg, '--workdir', wd, '--workers', '1']);
    expect(t.code, t.stderr).toBe(0);
    const m = await loadManifest(wd);
    expect(m.stages.train!.status).toBe('done');
    expect(m.stages.generate).toBeUndefined();
    const out = join(dir, 'split.pcap');
    const g = await cli(['generate', '--workdir', wd, '--out', out, '--workers', '1', '--no-downstream', '--no-privacy', '--flows', '30']);
    expect(g.code, g.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(wd, 'report.html'))).toBe(true);
    // --duration longer than the input: a second pass continues after the input's end, cut at start + duration
    const real = (await readTrace(input)).table as PacketTable;
    const span = (real.time[real.length - 1]! - real.time[0]!) / 1e6;
    const longer = join(dir, 'longer.pcap');
    const d = await cli(['generate', '--workdir', wd, '--out', longer, '--workers', '1', '--no-downstream', '--no-privacy', '--duration', String(span * 1.8)]);
    expect(d.code, d.stderr).toBe(0);
    const syn = (await readTrace(longer)).table as PacketTable;
    expect(syn.time[syn.length - 1]!).toBeGreaterThan(real.time[real.length - 1]!);
    expect(syn.time[syn.length - 1]!).toBeLessThan(real.time[0]! + span * 1.8e6);
    expect((await loadManifest(wd)).stages.generate!.outcome).toMatchObject({ passes: 2 });
  }, 120_000);
});
