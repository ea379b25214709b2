// The CLI on the flow inputs of issue 17: every reading command takes --schema/--skip-bad-rows, outputs are checked
// before any work (exit 2, nothing read or written), CIDDS exports with tokens and no label columns preprocess.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { writeFlowCsv } from '../../src/io/netflow-csv.js';
import { makeFlows } from '../eval/helpers.js';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'netshare-flow-cli-'));
afterEach(() => vi.restoreAllMocks());

const HEADER = 'Date first seen,Duration,Proto,Src IP Addr,Src Pt,Dst IP Addr,Dst Pt,Packets,Bytes,Flows,Flags';
function cidds(n: number): string {
  const names = ['EXT_SERVER', 'DNS', '10162_65', 'ATTACKER1', 'OPENSTACK_NET'];
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = `2017-03-15 00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}`;
    const dst = i % 3 === 0 ? `192.168.220.${1 + (i % 7)}` : names[i % names.length];
    rows.push(`${s},${(i % 5) * 0.1},${i % 4 === 0 ? 'UDP' : i % 9 === 0 ? 'Other' : 'TCP'},192.168.100.${1 + (i % 5)},${40000 + i},${dst},${[80, 443, 53][i % 3]},${1 + (i % 6)},${64 * (1 + (i % 6))},1,.AP...`);
  }
  return `${HEADER}\n${rows.join('\n')}\n`;
}

describe('netshare preprocess / eval / convert on flow inputs', () => {
  it('preprocess: a CIDDS export with tokens, "Other" and no class/attackType columns works with the netflow preset, with notices', async () => {
    const input = join(dir, 'cidds.csv');
    writeFileSync(input, cidds(120));
    const { code, err, out } = await runCli(['preprocess', '--input', input, '--workdir', join(dir, 'wd'), '--chunks', '2', '--holdout-share', '0']);
    expect(err + out).toMatch(/name a host by a token instead of an address/);
    expect(err + out).toMatch(/optional fields not modelled \(the trace has no such column\): type, label/);
    expect(code).toBe(EXIT.OK);
  }, 60_000);

  it('eval accepts --skip-bad-rows (its error suggested it) and refuses a folder as --report before reading anything', async () => {
    const real = join(dir, 'real.csv');
    const syn = join(dir, 'syn.csv');
    await writeFlowCsv(real, makeFlows(400, 1));
    await writeFlowCsv(syn, makeFlows(300, 2));
    // one more field than the header on the last line
    const text = readFileSync(syn, 'utf8');
    const lines = text.trimEnd().split('\n');
    const nf = lines[0]!.split(',').length;
    writeFileSync(syn, `${text}${lines[1]},extra-field\n`);
    const bad = await runCli(['eval', '--real', real, '--synthetic', syn, '--no-downstream', '--no-privacy']);
    expect(bad.code).toBe(EXIT.INPUT);
    expect(bad.err).toContain(`syn.csv:${lines.length + 1}: expected ${nf} fields (as the header) but found ${nf + 1}`);
    expect(bad.err).toContain('--skip-bad-rows');
    const ok = await runCli(['eval', '--real', real, '--synthetic', syn, '--skip-bad-rows', '--no-downstream', '--no-privacy', '--floor-splits', '1']);
    expect(ok.code).toBe(EXIT.OK);
    mkdirSync(join(dir, 'a-folder'), { recursive: true });
    const folder = await runCli(['eval', '--real', real, '--synthetic', join(dir, 'missing.csv'), '--report', join(dir, 'a-folder')]);
    // the output is refused before the (missing) synthetic file is even opened
    expect(folder.code).toBe(EXIT.USAGE);
    expect(folder.err).toMatch(/report/);
    const clobber = await runCli(['eval', '--real', real, '--synthetic', syn, '--metrics-json', real]);
    expect(clobber.code).toBe(EXIT.USAGE);
    expect(clobber.err).toMatch(/other than the input/);
  }, 60_000);

  it('convert refuses --to the input, a folder, or an unknown extension (exit 2) and leaves nothing behind', async () => {
    const sub = join(dir, 'conv');
    mkdirSync(sub);
    const input = join(sub, 'in.csv');
    writeFileSync(input, cidds(20));
    for (const to of [input, sub, join(sub, 'out.txt')]) {
      const r = await runCli(['convert', input, '--to', to, '--out-schema', 'netshare']);
      expect([to, r.code]).toEqual([to, EXIT.USAGE]);
    }
    expect(readdirSync(sub)).toEqual(['in.csv']);
    const ok = await runCli(['convert', input, '--to', join(sub, 'conn.log')]);
    expect(ok.code).toBe(EXIT.OK);
    expect(existsSync(join(sub, 'conn.log'))).toBe(true);
  });

  it('preprocess and run refuse a work folder that is a file before reading anything (exit 2)', async () => {
    const input = join(dir, 'wd-in.csv');
    writeFileSync(input, cidds(20));
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    for (const cmd of ['preprocess', 'run']) {
      const r = await runCli([cmd, '--input', input, '--workdir', file]);
      expect([cmd, r.code]).toEqual([cmd, EXIT.USAGE]);
      expect(r.err).toMatch(/workdir/);
      const under = await runCli([cmd, '--input', input, '--workdir', join(file, 'wd')]);
      expect([cmd, under.code]).toEqual([cmd, EXIT.USAGE]);
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

