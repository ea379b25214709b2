// nfdump's binary nfcapd files, read through the `nfdump` program (Debian package nfdump) with its output streamed.
//
// `nfdump -o csv` (1.7.1) prints first/last seen in whole seconds, so the reader asks for a fmt line instead: %tsr
// (start, fractional seconds), %td (duration; seconds with -N), addresses, ports, protocol, flags, tos, packets,
// bytes — the NetFlow fields NetShare models, to the millisecond nfcapd stores. TZ=UTC keeps nfdump's clock out.
// Writing nfcapd is not supported: nfdump has no tool that turns records back into an nfcapd file, so synthetic
// NetFlow is written as CSV (the CLI refuses `--to x.nfcapd` and says so).
import { spawn, spawnSync } from 'node:child_process';
import { InputError } from '../errors.js';
import { AddressTokenMap } from './address-tokens.js';
import { Grow, forEachStreamLine } from './csv-lines.js';
import { protoNumber } from './protocols.js';
import { parseIpv4, type FlowTable } from './table.js';

/** nfcapd files start with this little-endian uint16 (LAYOUT_VERSION 1 and 2). */
export const NFCAPD_MAGIC = 0xa50c;

export interface ReadNfcapdOptions {
  skipBadRows?: boolean;
  limit?: number;
  onProgress?: (bytesRead: number, totalBytes: number, rows: number) => void;
}

const FMT = 'fmt:%tsr|%td|%pr|%sa|%sp|%da|%dp|%flg|%stos|%ipkt|%ibyt';

/** Whether the nfdump program can be run (the reader's and the oracle tests' precondition). */
export function nfdumpAvailable(): boolean {
  return spawnSync('nfdump', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** nfdump's %td → seconds: plain seconds ("12.345", with -N) or "[d ]HH:MM:SS.mmm"; NaN when malformed. */
export function parseNfdumpDuration(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s.trim())) return Number(s);
  const m = /^(?:(\d+)\s+)?(\d+):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return NaN;
  const ms = m[5] ? Math.round(Number(`0.${m[5]}`) * 1000) : 0;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2])) * 3600 + Number(m[3]) * 60 + Number(m[4])) + ms / 1000;
}

const FLAG_BITS: Record<string, number> = { C: 0, E: 0, U: 0x20, A: 0x10, P: 0x08, R: 0x04, S: 0x02, F: 0x01 };

/** Read an nfcapd file into a FlowTable (IPv4 records; an IPv6 one is a bad row). Needs the nfdump program. */
export async function readNfcapd(
  file: string,
  opts: ReadNfcapdOptions = {},
): Promise<{ table: FlowTable; stats: { rows: number; skipped: number; seconds: number; badRows: { line: number; reason: string }[]; warnings: string[] } }> {
  const t0 = performance.now();
  if (!nfdumpAvailable()) {
    throw new InputError(`${file} is an nfcapd file; reading it needs the nfdump program (apt-get install nfdump), which is not installed`, file);
  }
  const limit = opts.limit ?? Infinity;
  const srcIp = new Grow(Uint32Array);
  const dstIp = new Grow(Uint32Array);
  const srcPort = new Grow(Uint16Array);
  const dstPort = new Grow(Uint16Array);
  const proto = new Grow(Uint8Array);
  const ts = new Grow(Float64Array);
  const td = new Grow(Float64Array);
  const pkt = new Grow(Float64Array);
  const byt = new Grow(Float64Array);
  const flags = new Grow(Uint8Array);
  const tos = new Grow(Uint8Array);
  const tokens = new AddressTokenMap();
  const badRows: { line: number; reason: string }[] = [];
  let rows = 0;
  let skipped = 0;
  const child = spawn('nfdump', ['-q', '-N', '-r', file, '-o', FMT], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4000) stderr += c.toString();
  });
  const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)));
  const spawnError = new Promise<never>((_r, rej) => child.on('error', (e) => rej(new InputError(`cannot run nfdump on ${file}: ${e.message}`, file))));
  const bad = (line: number, reason: string): void => {
    if (!opts.skipBadRows) throw new InputError(`${file}: nfdump record ${line}: ${reason} (use --skip-bad-rows to skip such records)`, file, { line });
    skipped++;
    if (badRows.length < 20) badRows.push({ line, reason });
  };
  let stopped = false;
  const onLine = (buf: Buffer, s: number, e: number, line: number): boolean | void => {
    if (rows >= limit) {
      stopped = true;
      return false;
    }
    const f = buf.toString('latin1', s, e).split('|').map((x) => x.trim());
    if (f.length !== 11) return bad(line, `expected 11 fields from nfdump but found ${f.length}`);
    const t = Number(f[0]);
    const d = parseNfdumpDuration(f[1]!);
    const pr = protoNumber(f[2]!);
    const sa = parseIpv4(f[3]!);
    const da = parseIpv4(f[5]!);
    const sp = Number(f[4]);
    const dp = Number(f[6]);
    const p = Number(f[9]);
    const b = Number(f[10]);
    const tosv = Number(f[8]);
    if (sa < 0 || da < 0) return bad(line, `expected IPv4 addresses but received ${f[3]} -> ${f[5]} (IPv6 flow records are not supported)`);
    if (!Number.isFinite(t) || !(d >= 0) || pr < 0 || !(sp >= 0 && sp <= 65535) || !(dp >= 0 && dp <= 65535) || !(p >= 0) || !(b >= 0)) {
      return bad(line, `unreadable record "${buf.toString('latin1', s, e)}"`);
    }
    let fl = 0;
    for (const c of f[7]!) if (c !== '.') fl |= FLAG_BITS[c] ?? 0;
    tokens.noteReal(sa);
    tokens.noteReal(da);
    srcIp.push(sa);
    dstIp.push(da);
    srcPort.push(sp);
    dstPort.push(dp);
    proto.push(pr);
    ts.push(Math.round(t * 1000) * 1000);
    td.push(d);
    pkt.push(p);
    byt.push(b);
    flags.push(fl);
    tos.push(tosv >= 0 && tosv <= 255 ? tosv : 0);
    rows++;
  };
  try {
    await Promise.race([forEachStreamLine(child.stdout, onLine), spawnError]);
  } catch (err) {
    child.kill();
    throw err;
  }
  if (stopped) child.kill();
  const code = await exited;
  if (!stopped && code !== 0) throw new InputError(`nfdump could not read ${file} (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`, file);
  opts.onProgress?.(1, 1, rows);
  const warnings = skipped > 0 ? [`${skipped} nfdump records skipped (first: record ${badRows[0]?.line}: ${badRows[0]?.reason})`] : [];
  return {
    table: {
      kind: 'flows',
      length: rows,
      srcIp: srcIp.done(),
      dstIp: dstIp.done(),
      srcPort: srcPort.done(),
      dstPort: dstPort.done(),
      proto: proto.done(),
      ts: ts.done(),
      td: td.done(),
      pkt: pkt.done(),
      byt: byt.done(),
      tcpFlags: flags.done(),
      tos: tos.done(),
    },
    stats: { rows, skipped, seconds: (performance.now() - t0) / 1000, badRows, warnings },
  };
}
