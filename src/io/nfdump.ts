// nfdump's binary nfcapd files, read through the `nfdump` program (Debian package nfdump) with its output streamed.
//
// `nfdump -o csv` (1.7.1) prints first/last seen in whole seconds, so the reader asks for a fmt line instead: %tsr
// (start, fractional seconds), %td (duration; seconds with -N), addresses, ports, protocol, flags, tos, packets,
// bytes — the NetFlow fields NetShare models, to the millisecond nfcapd stores. TZ=UTC keeps nfdump's clock out.
// Writing: nfdump has no tool that builds an nfcapd file from records, but its collector nfcapd does from NetFlow
// export datagrams, so writeNfcapd runs a private nfcapd on a loopback port and sends it the records as NetFlow v5.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, InputError, NetShareError, expected } from '../errors.js';
import { atomicFile } from './atomic.js';
import { forEachStreamLine } from './csv-lines.js';
import { FlowTableBuilder, type FlowReadOptions, type FlowReadStats } from './flow-table-builder.js';
import { protoNumber } from './protocols.js';
import { parseIpv4, type FlowTable } from './table.js';

/** nfcapd files start with this little-endian uint16 (LAYOUT_VERSION 1 and 2). */
export const NFCAPD_MAGIC = 0xa50c;

export type ReadNfcapdOptions = FlowReadOptions;

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
): Promise<{ table: FlowTable; stats: FlowReadStats }> {
  const out = new FlowTableBuilder(file, opts, ['tcpFlags', 'tos']);
  if (!nfdumpAvailable()) {
    throw new InputError(`${file} is an nfcapd file; reading it needs the nfdump program (apt-get install nfdump), which is not installed`, file);
  }
  const child = spawn('nfdump', ['-q', '-N', '-r', file, '-o', FMT], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4000) stderr += c.toString();
  });
  const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)));
  const spawnError = new Promise<never>((_r, rej) => child.on('error', (e) => rej(new InputError(`cannot run nfdump on ${file}: ${e.message}`, file))));
  const bad = (line: number, reason: string): void =>
    out.badRow(line, reason, () => `${file}: nfdump record ${line}: ${reason} (use --skip-bad-rows to skip such records)`);
  let stopped = false;
  const onLine = (buf: Buffer, s: number, e: number, line: number): boolean | void => {
    if (out.full) {
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
    // ICMP: nfdump prints type.code in the destination port; keep the type (as the CIDDS reader does)
    const sp = Math.trunc(Number(f[4]));
    const dp = Math.trunc(Number(f[6]));
    const p = Number(f[9]);
    const b = Number(f[10]);
    const tosv = Number(f[8]);
    if (sa < 0 || da < 0) return bad(line, `expected IPv4 addresses but received ${f[3]} -> ${f[5]} (IPv6 flow records are not supported)`);
    if (!Number.isFinite(t) || !(d >= 0) || pr < 0 || !(sp >= 0 && sp <= 65535) || !(dp >= 0 && dp <= 65535) || !(p >= 0) || !(b >= 0)) {
      return bad(line, `unreadable record "${buf.toString('latin1', s, e)}"`);
    }
    let fl = 0;
    for (const c of f[7]!) if (c !== '.') fl |= FLAG_BITS[c] ?? 0;
    const r = out.row;
    r.srcIp = out.real(sa);
    r.dstIp = out.real(da);
    r.srcPort = sp;
    r.dstPort = dp;
    r.proto = pr;
    r.ts = Math.round(t * 1000) * 1000;
    r.td = d;
    r.pkt = p;
    r.byt = b;
    r.tcpFlags = fl;
    r.tos = tosv >= 0 && tosv <= 255 ? tosv : 0;
    out.push();
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
  opts.onProgress?.(1, 1, out.rows);
  return out.finish({ skipped: (skipped, first) => `${skipped} nfdump records skipped (first: record ${first?.line}: ${first?.reason})` });
}

/** Whether nfcapd (the collector, same Debian package) can be run: what writing nfcapd files needs. */
export function nfcapdAvailable(): boolean {
  return spawnSync('nfcapd', ['-V'], { stdio: 'ignore' }).status === 0;
}

const V5_HEADER = 24;
const V5_RECORD = 48;
const V5_MAX = 30;

/** NetFlow v5 export datagrams for `table` (all with one header time; times in ms after a made-up boot). */
function v5Datagrams(table: FlowTable): Buffer[] {
  const n = table.length;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = Math.round(table.ts[i]! / 1000);
    first = Math.min(first, s);
    last = Math.max(last, s + Math.round(table.td[i]! * 1000));
  }
  const boot = first - 1000;
  const uptime = last - boot + 1000;
  if (uptime >= 2 ** 31) throw new ConfigError(expected('a trace spanning under 24 days (NetFlow v5 times are 32-bit milliseconds since the exporter booted)', 'to', `${(uptime / 864e5).toFixed(1)} days`), 'to');
  const exportMs = boot + uptime;
  const out: Buffer[] = [];
  for (let b = 0, seq = 0; b < n; b += V5_MAX) {
    const count = Math.min(V5_MAX, n - b);
    const d = Buffer.alloc(V5_HEADER + count * V5_RECORD);
    d.writeUInt16BE(5, 0);
    d.writeUInt16BE(count, 2);
    d.writeUInt32BE(uptime, 4);
    d.writeUInt32BE(Math.floor(exportMs / 1000), 8);
    d.writeUInt32BE((exportMs % 1000) * 1e6, 12);
    d.writeUInt32BE(seq >>> 0, 16);
    seq += count;
    for (let k = 0; k < count; k++) {
      const i = b + k;
      const o = V5_HEADER + k * V5_RECORD;
      const pk = table.pkt[i]!;
      const by = table.byt[i]!;
      if (!(pk >= 0 && pk < 2 ** 32 && by >= 0 && by < 2 ** 32)) {
        throw new ConfigError(expected('packet and byte counts below 2^32 (NetFlow v5 counters)', `record ${i + 1}`, `${pk} packets, ${by} bytes`), 'to');
      }
      const s = Math.round(table.ts[i]! / 1000) - boot;
      d.writeUInt32BE(table.srcIp[i]!, o);
      d.writeUInt32BE(table.dstIp[i]!, o + 4);
      d.writeUInt32BE(Math.round(pk), o + 16);
      d.writeUInt32BE(Math.round(by), o + 20);
      d.writeUInt32BE(s, o + 24);
      d.writeUInt32BE(s + Math.round(table.td[i]! * 1000), o + 28);
      d.writeUInt16BE(table.srcPort[i]!, o + 32);
      d.writeUInt16BE(table.dstPort[i]!, o + 34);
      d.writeUInt8(table.tcpFlags?.[i] ?? 0, o + 37);
      d.writeUInt8(table.proto[i]!, o + 38);
      d.writeUInt8(table.tos?.[i] ?? 0, o + 39);
    }
    out.push(d);
  }
  return out;
}

/**
 * Write `table` as an nfcapd file with nfdump's own collector: a private `nfcapd` on a loopback port receives the
 * records as NetFlow v5 datagrams and writes them; the file is accepted only when nfcapd reports every record
 * (loopback UDP can still drop), then renamed into place. v5 keeps IPv4 addresses, ports, protocol, TOS, TCP flags,
 * packets, bytes and millisecond times (sub-ms time is rounded). Throws NetShareError when nfcapd is missing or loses
 * records; nothing is left at `file` then.
 */
export async function writeNfcapd(file: string, table: FlowTable): Promise<{ rows: number }> {
  if (!nfcapdAvailable() || !nfdumpAvailable()) throw new NetShareError(`writing ${file} needs nfcapd and nfdump (apt-get install nfdump), which are not installed`);
  if (table.ipVersion?.includes(6)) throw new ConfigError(expected('IPv4 flow records (NetFlow v5 has no IPv6)', 'to', file), 'to');
  if (table.addressTokens?.size) {
    // nfcapd holds addresses only: the tokens would come out as reserved 240/4 addresses nobody could map back
    throw new ConfigError(
      `${file}: the records name ${table.addressTokens.size} hosts by tokens (e.g. ${[...table.addressTokens.values()].slice(0, 3).join(', ')}), which nfcapd cannot hold; write a CSV or Zeek log instead`,
      'to',
    );
  }
  const datagrams = v5Datagrams(table);
  await mkdir(dirname(resolve(file)), { recursive: true });
  const work = await mkdtemp(join(dirname(resolve(file)), '.nfcapd-'));
  const target = atomicFile(file);
  let collector: ReturnType<typeof spawn> | undefined;
  const sock = createSocket('udp4');
  try {
    const port = await new Promise<number>((res, rej) => {
      const probe = createSocket('udp4');
      probe.once('error', rej);
      probe.bind(0, '127.0.0.1', () => {
        const p = probe.address().port;
        probe.close(() => res(p));
      });
    });
    const cap = join(work, 'cap');
    await mkdir(cap);
    const proc = spawn('nfcapd', ['-w', cap, '-b', '127.0.0.1', '-p', String(port), '-t', '86400', '-B', String(1 << 23), '-v'], {
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collector = proc;
    let log = '';
    const exited = new Promise<number>((res) => proc.on('close', (c) => res(c ?? -1)));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new NetShareError(`nfcapd did not start: ${log.trim()}`)), 10_000);
      const onData = (c: Buffer): void => {
        log += c.toString();
        if (log.includes('Startup')) {
          clearTimeout(timer);
          res();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', (e) => rej(new NetShareError(`cannot run nfcapd: ${e.message}`)));
      void exited.then(() => rej(new NetShareError(`nfcapd exited: ${log.trim()}`)));
    });
    for (let k = 0; k < datagrams.length; k++) {
      await new Promise<void>((res, rej) => sock.send(datagrams[k]!, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      // pace the sender so the collector's socket buffer never overflows
      if (k % 32 === 31) await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 200));
    proc.kill('SIGTERM');
    // nfcapd flushes its file on SIGTERM; one that does not exit is killed rather than waited for forever
    const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
    collector = undefined;
    const got = /Flows: (\d+)/.exec(log.slice(log.lastIndexOf('Ident:')));
    if (!got || Number(got[1]) !== table.length) {
      throw new NetShareError(`nfcapd stored ${got ? got[1] : 'no'} of ${table.length} records (datagrams lost on the loopback); nothing written to ${file}`);
    }
    const files = (await readdir(cap)).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
    if (files.length === 1) await rename(join(cap, files[0]!), target.tmp);
    else {
      // the collector rotated: nfdump merges its files into one
      const r = spawnSync('nfdump', ['-R', cap, '-w', target.tmp], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
      if (r.status !== 0) throw new NetShareError(`nfdump could not merge nfcapd's files: ${r.stderr}`);
    }
    await target.commit();
    return { rows: table.length };
  } catch (err) {
    await target.abort();
    throw err;
  } finally {
    sock.close();
    collector?.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
}
