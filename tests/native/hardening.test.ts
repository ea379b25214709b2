// Issue 18's review findings, one test each: inconsistent IP headers are never `ok`, timestamps past 2038, pcapng
// block lengths / if_tsoffset / interface ids, LINKTYPE_RAW, pipes and stdin, ERF timestamps, flow min/max times,
// zlib's "<fd:N>", NUL bytes in strings, a detached recycled buffer, flows-only reads.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { PacketTable } from '../../src/core/columns.js';
import { ConfigError, InputError } from '../../src/errors.js';
import { nativeBinding } from '../../src/native/addon.js';
import {
  PacketStatus,
  readFlowBatches,
  readFlowTable,
  readPacketBatches,
  readPacketTable,
  type PacketBatch,
  type ReadOptions,
} from '../../src/native/reader.js';
import { writePcap } from '../../src/native/writer.js';
import { eth, ipv4, ipv6, pcap, pcapngSection, save, tmp } from './reader-fixtures.js';

async function batches(file: string, opts: ReadOptions = {}): Promise<PacketBatch[]> {
  const out: PacketBatch[] = [];
  for await (const b of readPacketBatches(file, opts)) out.push(b);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error;
}

const udp4 = (o: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ src: 0x0a000001, dst: 0x0a000002, proto: 17, sport: 1000, dport: 53, ...o });

describe('inconsistent IP headers are flagged, not ok', () => {
  it('IHL beyond the captured bytes, total length < IHL, IPv6 payload length beyond the packet', async () => {
    const good = udp4();
    const ihlBeyond = Uint8Array.from(good);
    ihlBeyond[0] = 0x4f; // 60-byte header in a 28-byte packet
    const totalBelowIhl = Uint8Array.from(good);
    totalBelowIhl[2] = 0;
    totalBelowIhl[3] = 12; // total length 12 < 20
    const v6 = ipv6({ src: new Array(16).fill(1), dst: new Array(16).fill(2), proto: 17, sport: 5, dport: 6 });
    const v6Long = Uint8Array.from(v6);
    v6Long[4] = 0x01; // payload length 256 + 8, in a 48-byte packet
    const file = save(
      'inconsistent.pcap',
      pcap([good, ihlBeyond, totalBelowIhl, v6, v6Long].map((d, i) => ({ sec: i, frac: 0, data: d })), { linktype: 101 }),
    );
    const [b] = await batches(file);
    expect(Array.from(b!.status)).toEqual([PacketStatus.OK, PacketStatus.UNDECODABLE, PacketStatus.UNDECODABLE, PacketStatus.OK, PacketStatus.UNDECODABLE]);
    expect(b!.stats.undecodable).toBe(3);
  });

  it('an IPv4 total length beyond the original length is flagged; a header-only record of the full length is not', async () => {
    // 28 bytes of IPv4+UDP whose header claims 200: as a whole record (len 28) it claims bytes that never were on the
    // wire; as a header-only record (len 200, caplen 28) it is a consistent, truncated packet.
    const long = Uint8Array.from(udp4());
    long[2] = 0;
    long[3] = 200;
    const v6 = ipv6({ src: new Array(16).fill(1), dst: new Array(16).fill(2), proto: 17, sport: 5, dport: 6 });
    const v6Long = Uint8Array.from(v6);
    v6Long[4] = 0x01; // payload length 264
    const file = save(
      'total-beyond-wire.pcap',
      pcap(
        [
          { sec: 0, frac: 0, data: long },
          { sec: 1, frac: 0, data: long, len: 200 },
          { sec: 2, frac: 0, data: long, len: 199 },
          { sec: 3, frac: 0, data: v6Long, len: 304 },
          { sec: 4, frac: 0, data: v6Long, len: 303 },
        ],
        { linktype: 101 },
      ),
    );
    const [b] = await batches(file);
    expect(Array.from(b!.status)).toEqual([PacketStatus.UNDECODABLE, PacketStatus.TRUNCATED, PacketStatus.UNDECODABLE, PacketStatus.TRUNCATED, PacketStatus.UNDECODABLE]);
    expect([b!.srcPort[0], b!.dstPort[0], b!.pktLen[0]]).toEqual([0, 0, 0]); // an undecodable row carries no fields
    expect([b!.srcPort[1], b!.dstPort[1], b!.pktLen[1]]).toEqual([1000, 53, 200]);
    // The same bytes behind Ethernet: the bound is the original length less the link header.
    const eFile = save('total-beyond-wire-eth.pcap', pcap([{ sec: 0, frac: 0, data: eth(0x0800, long), len: 213 }, { sec: 1, frac: 0, data: eth(0x0800, long), len: 214 }]));
    const [e] = await batches(eFile);
    expect(Array.from(e!.status)).toEqual([PacketStatus.UNDECODABLE, PacketStatus.TRUNCATED]);
  });

  it('an ERF ATM cell is not bounded by its own length (it carries 48 bytes of a longer PDU)', async () => {
    // ERF type 3 (ATM cell): 16-byte ERF header, 4-byte ATM header, LLC/SNAP, then the head of a 1500-byte IPv4 packet.
    const head = Uint8Array.from(udp4()).subarray(0, 28);
    head[2] = 1500 >> 8;
    head[3] = 1500 & 255;
    const body = [0, 0, 0, 0, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, ...head, ...new Array<number>(12).fill(0)];
    const erf = Buffer.alloc(16 + body.length);
    erf.writeUInt32LE(1_000_000, 4);
    erf[8] = 3;
    erf.writeUInt16BE(erf.length, 10);
    erf.writeUInt16BE(52, 14);
    Buffer.from(body).copy(erf, 16);
    const file = save('erf-atm-cell.pcap', pcap([{ sec: 1, frac: 0, data: erf }], { linktype: 197 }));
    const [b] = await batches(file);
    expect(b!.status[0]).toBe(PacketStatus.OK);
    expect([b!.pktLen[0], b!.srcPort[0], b!.dstPort[0]]).toEqual([1500, 1000, 53]);
  });

  it('transport fields come only from bytes inside the IP total length (Ethernet padding is not a header)', async () => {
    // An IPv4 packet of protocol 17 whose total length (20) holds no UDP header, padded to 46 bytes by Ethernet.
    const bare = Uint8Array.from([...udp4().subarray(0, 20), ...[0x12, 0x34, 0x56, 0x78], ...new Array<number>(22).fill(0xee)]);
    bare[2] = 0;
    bare[3] = 20;
    const file = save('padded.pcap', pcap([{ sec: 1, frac: 0, data: eth(0x0800, bare) }]));
    const [b] = await batches(file);
    expect(b!.status[0]).toBe(PacketStatus.OK);
    expect([b!.srcPort[0], b!.dstPort[0]]).toEqual([0, 0]); // 0x1234 / 0x5678 before: read from the padding
  });
});

function table(times: number[]): PacketTable {
  const n = times.length;
  return {
    kind: 'packets',
    length: n,
    time: Float64Array.from(times),
    ipVersion: new Uint8Array(n).fill(4),
    srcIp: new Uint32Array(n).fill(0x0a000001),
    dstIp: new Uint32Array(n).fill(0x0a000002),
    srcPort: new Uint16Array(n).fill(1234),
    dstPort: new Uint16Array(n).fill(80),
    proto: new Uint8Array(n).fill(6),
    pktLen: new Uint32Array(n).fill(40),
    ihl: new Uint8Array(n).fill(20),
    tos: new Uint8Array(n),
    ipId: new Uint32Array(n),
    flags: new Uint8Array(n),
    fragOffset: new Uint16Array(n),
    ttl: new Uint8Array(n).fill(64),
    ipChecksum: new Uint16Array(n),
    tcpFlags: new Uint8Array(n).fill(0x10),
    tcpWindow: new Uint16Array(n),
  };
}

describe('exact times in a packet table', () => {
  it('readPacketTable carries timeNs as a non-enumerable BigInt64Array (generic column code never sees it)', async () => {
    const file = save('timens.pcap', pcap([{ sec: 1_700_000_000, frac: 123_456_789, data: eth(0x0800, udp4()) }], { ns: true }));
    const { table: t } = await readPacketTable(file);
    expect(t.timeNs).toBeInstanceOf(BigInt64Array);
    expect(t.timeNs[0]).toBe(1_700_000_000_123_456_789n);
    expect(Object.keys(t)).not.toContain('timeNs');
    expect(Object.values(t).some((v) => v instanceof BigInt64Array)).toBe(false);
    expect('timeNs' in { ...t }).toBe(false);
  });
});

describe('timestamps from 2038 to 2106', () => {
  it('a written ts_sec above 2^31 reads back unsigned, in pcap and pcapng', async () => {
    const times = [2_200_000_000e6, 4_294_967_295e6 + 999_999, 2_147_483_648e6];
    for (const format of ['pcap', 'pcapng'] as const) {
      const file = join(tmp, `y2106.${format}`);
      await writePcap(file, table(times), { format });
      const { table: back, stats } = await readPacketTable(file);
      expect(Array.from(back.time)).toEqual(times);
      expect(stats.firstTsNs).toBe(2_200_000_000n * 1_000_000_000n);
    }
  });
});

describe('pcapng hardening', () => {
  // SHB (28 bytes) + an IDB (20) + the head of a block that claims 256 MiB - 16 in a 124-byte file.
  const shb = pcapngSection([{ linktype: 1 }], []);
  const huge = Buffer.alloc(124 - shb.length);
  huge.writeUInt32LE(6, 0);
  huge.writeUInt32LE((256 << 20) - 16, 4);
  const bomb = Buffer.concat([shb, huge]);

  it('a block length beyond the bytes left in the file is an InputError before any allocation', async () => {
    expect(bomb.length).toBe(124);
    const file = save('bomb.pcapng', bomb);
    const e = await rejection(batches(file));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/block of 268435440 bytes has only 76 before end of file/);
  });

  it('does not allocate the claimed length (peak RSS of a child reading the 124-byte file, plain and through a pipe)', () => {
    const file = save('bomb2.pcapng', bomb);
    const addon = process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node');
    const script = `
      const { NativeReader } = require(${JSON.stringify(addon)});
      const before = process.resourceUsage().maxRSS;
      const r = new NativeReader(process.argv[1], { flows: false });
      r.nextBatch(256).then(() => process.exit(3), (e) => {
        console.log(JSON.stringify({ grew: process.resourceUsage().maxRSS - before, msg: e.message }));
      });`;
    for (const viaPipe of [false, true]) {
      const res = viaPipe
        ? spawnSync(process.execPath, ['-e', script, '-'], { input: bomb, encoding: 'utf8' })
        : spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as { grew: number; msg: string };
      expect(out.msg).toMatch(/truncated pcapng file/);
      expect(out.grew).toBeLessThan(64 * 1024); // KiB: 256 MiB were zero-filled before
    }
  });

  it('if_tsoffset additions saturate (clampedTs) instead of overflowing', async () => {
    const le32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
    // IDB: linktype 1, snaplen 0, if_tsoffset (code 14, 8 bytes) = 2^63 - 1, opt_endofopt.
    const idb = [1, 0, 0, 0, ...le32(0), 14, 0, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
    const file = save('tsoffset.pcapng', pcapngSection([], [{ iface: 0, ts: 5_000_000n, data: eth(0x0800, udp4()) }], { extra: [[1, idb]] }));
    const [b] = await batches(file);
    expect(b!.length).toBe(1);
    expect(b!.stats.clampedTs).toBe(1);
    expect(b!.tsNs[0]).toBe(2n ** 63n - 1n);
  });

  it('interface ids above 65535 are rejected, never truncated', async () => {
    const ifaces = Array.from({ length: 65537 }, () => ({ linktype: 1 }));
    const file = save('many-ifaces.pcapng', pcapngSection(ifaces, [{ iface: 65536, ts: 1n, data: eth(0x0800, udp4()) }]));
    const e = await rejection(batches(file));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/interface 65536; interface ids above 65535 are not supported/);
  });

  it('LINKTYPE_RAW is reported as 101 for pcap and pcapng alike', async () => {
    const data = udp4();
    const a = save('raw.pcap', pcap([{ sec: 1, frac: 0, data }], { linktype: 101 }));
    const b = save('raw.pcapng', pcapngSection([{ linktype: 101 }], [{ iface: 0, ts: 1n, data }]));
    for (const f of [a, b]) {
      const [batch] = await batches(f);
      expect(batch!.linktype[0]).toBe(101);
      expect(batch!.stats.linktypes).toEqual([101]);
      expect(batch!.status[0]).toBe(PacketStatus.OK);
    }
  });
});

describe('pipes and standard input', () => {
  const recs = [0, 1, 2, 3].map((i) => ({ sec: 100 + i, frac: 7, data: eth(0x0800, udp4({ sport: 2000 + i })) }));
  const bytes = pcap(recs);
  const ng = pcapngSection([{ linktype: 1 }], recs.map((r) => ({ iface: 0, ts: BigInt(r.sec) * 1_000_000n + 7n, data: r.data })));

  it('reads a FIFO as a stream (pcap and pcapng)', async () => {
    for (const [name, content] of [['fifo.pcap', bytes], ['fifo.pcapng', ng]] as const) {
      const fifo = join(tmp, name);
      if (!existsSync(fifo)) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const writer = spawn('sh', ['-c', `cat > "${fifo}"`], { stdio: ['pipe', 'ignore', 'inherit'] });
      writer.stdin.end(Buffer.from(content));
      const { table: t, stats } = await readPacketTable(fifo);
      expect(stats.packets).toBe(4);
      expect(Array.from(t.srcPort)).toEqual([2000, 2001, 2002, 2003]);
      expect(t.time[3]).toBe(103e6 + 7);
    }
  });

  it('"-" reads standard input (as tcpdump -r - does)', () => {
    const file = save('stdin.pcap', bytes);
    const script = `
      const { NativeReader } = require(${JSON.stringify(process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node'))});
      const r = new NativeReader('-', { flows: true });
      (async () => {
        let n = 0, flows = 0;
        for (;;) { const b = await r.nextBatch(2); n += b.count; flows += b.flows.length; if (b.done) break; }
        console.log(JSON.stringify({ n, flows }));
      })().catch((e) => { console.log(JSON.stringify({ err: e.message })); });`;
    const res = spawnSync(process.execPath, ['-e', script], { input: readFileSync(file), encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout.trim().split('\n').pop()!)).toMatchObject({ n: 4, flows: 4 });
  });

  it('"-" waits for data when standard input is non-blocking (O_NONBLOCK inherited from the parent), pcap and pcapng', async () => {
    // libuv makes a spawned child's fd 0 blocking, so the child sets O_NONBLOCK itself the way a Node program does by
    // touching process.stdin (libuv opens the pipe non-blocking; the flag lives on the open file description, shared
    // with the reader's dup). The capture arrives in pieces with pauses, so the reader finds the FIFO empty.
    const addon = JSON.stringify(process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node'));
    const script = `
      const fs = require('node:fs');
      process.stdin; // eslint-disable-line no-unused-expressions
      let nonblock = null;
      try { nonblock = (parseInt(/flags:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/0', 'utf8'))[1], 8) & 0o4000) !== 0; } catch {}
      const { NativeReader } = require(${addon});
      const r = new NativeReader('-', { flows: true });
      (async () => {
        let n = 0, flows = 0;
        for (;;) { const b = await r.nextBatch(2); n += b.count; flows += b.flows.length; if (b.done) break; }
        console.log(JSON.stringify({ n, flows, nonblock }));
      })().catch((e) => { console.log(JSON.stringify({ err: e.message, nonblock })); });`;
    for (const [name, content] of [['nb.pcap.fifo', bytes], ['nb.pcapng.fifo', ng]] as const) {
      const fifo = join(tmp, name);
      if (!existsSync(fifo)) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const wfd = openSync(fifo, constants.O_WRONLY); // does not block: a reader is open
      const child = spawn(process.execPath, ['-e', script], { stdio: [rfd, 'pipe', 'inherit'] });
      closeSync(rfd);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((done) => child.on('close', done));
      const buf = Buffer.from(content);
      for (let at = 0; at < buf.length; at += 37) {
        await new Promise((r) => setTimeout(r, at === 0 ? 300 : 20));
        writeSync(wfd, buf.subarray(at, at + 37));
      }
      closeSync(wfd);
      expect(await exited).toBe(0);
      const res = JSON.parse(out.trim().split('\n').pop()!) as { n?: number; flows?: number; err?: string; nonblock: boolean | null };
      if (process.platform === 'linux') expect(res.nonblock).toBe(true); // the test really ran on a non-blocking fd 0
      expect(res).toMatchObject({ n: 4, flows: 4 });
    }
  });

  const BIN = join(process.cwd(), 'dist', 'src', 'cli', 'bin.js');
  const cliName = '`netshare convert -` reads a non-blocking standard input to the end';
  it.skipIf(!existsSync(BIN))(existsSync(BIN) ? cliName : `${cliName} (skipped: needs dist/ built)`, async () => {
    // A wrapper touches process.stdin (fd 0 becomes non-blocking, as in a Node program that hands its stdin on), then
    // runs the CLI, which reads fd 0 natively.
    const wrapper = join(tmp, 'nonblocking-stdin.mjs');
    writeFileSync(wrapper, `process.stdin;\nawait import(${JSON.stringify(pathToFileURL(BIN).href)});\n`);
    const fifo = join(tmp, 'nb-cli.fifo');
    if (!existsSync(fifo)) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY);
    const to = join(tmp, 'nb-cli.csv');
    const child = spawn(process.execPath, [wrapper, 'convert', '-', '--to', to, '--flows'], { stdio: [rfd, 'ignore', 'pipe'] });
    closeSync(rfd);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    await new Promise((r) => setTimeout(r, 1500)); // the CLI starts and finds the FIFO empty
    const buf = Buffer.from(bytes);
    writeSync(wfd, buf.subarray(0, 30));
    await new Promise((r) => setTimeout(r, 200));
    writeSync(wfd, buf.subarray(30));
    closeSync(wfd);
    expect(await exited, err).toBe(0);
    const direct = join(tmp, 'nb-direct.csv');
    const file = save('nb-direct.pcap', bytes);
    expect(spawnSync(process.execPath, [BIN, 'convert', file, '--to', direct, '--flows']).status).toBe(0);
    expect(readFileSync(to, 'utf8')).toBe(readFileSync(direct, 'utf8'));
    expect(readFileSync(to, 'utf8').trim().split('\n').length).toBe(5); // header + 4 flows
  });

  it('gzip through a pipe is refused with a clear message', () => {
    const script = `
      const { NativeReader } = require(${JSON.stringify(process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node'))});
      new NativeReader('-', { flows: false }).nextBatch(16).then(() => console.log('read'), (e) => console.log(e.message));`;
    const res = spawnSync(process.execPath, ['-e', script], { input: gzipSync(bytes), encoding: 'utf8' });
    expect(res.stdout).toMatch(/gzip'd input from a pipe or standard input is not supported/);
  });
});

describe('gzip errors', () => {
  it("zlib's <fd:N> does not leak into the message", async () => {
    const recs = Array.from({ length: 200 }, (_, i) => ({ sec: i, frac: 0, data: eth(0x0800, udp4({ sport: i })) }));
    const gz = gzipSync(pcap(recs));
    const file = save('cut-fd.pcap.gz', gz.subarray(0, gz.length - 40));
    const e = await rejection(batches(file));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/corrupt or truncated gzip stream \(zlib: /);
    expect(e.message).not.toMatch(/<fd:/);
  });
});

describe('ERF records', () => {
  it('use the ERF header timestamp (sub-µs) when the link type is ERF', async () => {
    // ERF record: ts (LE 32.32), type 2 (Ethernet), flags, rlen, lctr, wlen, 2 pad bytes, then the frame.
    const frame = eth(0x0800, udp4());
    const erf = Buffer.alloc(18 + frame.length);
    const sec = 1_600_000_000;
    const frac = 0x80000000 + 0x1000; // 0.5 s + 953.67... ns
    erf.writeUInt32LE(frac, 0);
    erf.writeUInt32LE(sec, 4);
    erf[8] = 2;
    erf.writeUInt16BE(erf.length, 10);
    erf.writeUInt16BE(frame.length, 14);
    Buffer.from(frame).copy(erf, 18);
    const file = save('erf-ts.pcap', pcap([{ sec: 1, frac: 2, data: erf }], { linktype: 197 }));
    const [b] = await batches(file);
    expect(b!.status[0]).toBe(PacketStatus.OK);
    expect(b!.tsNs[0]).toBe(BigInt(sec) * 1_000_000_000n + 500_000_954n);
  });
});

describe('flows', () => {
  it('first/last times are the min/max of the packets times, not file order', async () => {
    const recs = [10, 5, 7, 12, 11].map((sec) => ({ sec, frac: 0, data: eth(0x0800, udp4()) }));
    const { flows } = await readFlowTable(save('unordered.pcap', pcap(recs)));
    expect(flows.length).toBe(1);
    expect(flows.ts[0]).toBe(5e6);
    expect(flows.td[0]).toBe(7);
  });

  it('flows-only reads give the same flows and statistics as reads with packet columns', async () => {
    const shared = join(process.cwd(), '..', 'shared', 'data', 'pcap', 'caida-2018-1k.pcapng');
    const recs = Array.from({ length: 300 }, (_, i) => ({
      sec: 1000 + (i % 17),
      frac: i,
      data: i % 3 === 0 ? eth(0x86dd, ipv6({ src: new Array(16).fill(i % 5), dst: new Array(16).fill(9), proto: 6, sport: i % 7, dport: 443 })) : eth(0x0800, udp4({ sport: i % 11 })),
    }));
    const files = [save('mixed.pcap', pcap(recs)), ...(existsSync(shared) ? [shared] : [])];
    for (const file of files) {
      for (const opts of [{}, { inactiveTimeoutS: 3 }, { batchSize: 7 }] as ReadOptions[]) {
        const withCols: Array<Record<string, number[]>> = [];
        let s1;
        for await (const b of readPacketBatches(file, { ...opts, flows: true })) {
          s1 = b.stats;
          if (b.closedFlows?.length) withCols.push(flowRows(b.closedFlows));
        }
        const only: Array<Record<string, number[]>> = [];
        let s2;
        for await (const b of readFlowBatches(file, opts)) {
          s2 = b.stats;
          if (b.closedFlows.length) only.push(flowRows(b.closedFlows));
        }
        const cat = (parts: Array<Record<string, number[]>>) => Object.fromEntries(Object.keys(parts[0] ?? {}).map((k) => [k, parts.flatMap((p) => p[k]!)]));
        expect(cat(only)).toEqual(cat(withCols));
        expect({ ...s2!, seconds: 0 }).toEqual({ ...s1!, seconds: 0 });
      }
    }
  });
});

function flowRows(f: { length: number } & Record<string, unknown>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const k of ['srcIp', 'dstIp', 'srcIp6', 'dstIp6', 'srcPort', 'dstPort', 'proto', 'ipVersion', 'tcpFlags', 'id', 'ts', 'td', 'pkt', 'byt'])
    out[k] = Array.from(f[k] as ArrayLike<number>);
  return out;
}

describe('the addon boundary', () => {
  it('strings with an embedded NUL are rejected with a clear error (path, filter; TS layer and addon)', async () => {
    const good = save('nul.pcap', pcap([{ sec: 1, frac: 0, data: eth(0x0800, udp4()) }]));
    const e1 = await rejection(batches(`${good}\0.txt`));
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toMatch(/without NUL bytes/);
    const e2 = await rejection(batches(good, { filter: 'udp\0 or tcp' }));
    expect(e2).toBeInstanceOf(ConfigError);
    const { NativeReader } = nativeBinding() as unknown as { NativeReader: new (p: string, o: object) => unknown };
    expect(() => new NativeReader(`${good}\0x`, {})).toThrow(/path without NUL bytes/);
    expect(() => new NativeReader(good, { filter: 'udp\0' })).toThrow(/BPF filter without NUL bytes/);
  });

  // ASan reserves terabytes of shadow memory, so an address-space limit cannot be set under bench/asan.sh.
  it.skipIf(Boolean(process.env.LD_PRELOAD?.includes('libasan')))('a batch that cannot be allocated is an error, and the reader stays usable (busy flag not stuck)', () => {
    const addon = process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node');
    const file = save('busy.pcap', pcap([{ sec: 1, frac: 0, data: eth(0x0800, udp4()) }]));
    const script = `
      const vm = Number(/VmSize:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      if (process.argv[1] === 'size') { console.log(vm); process.exit(0); }
      const { NativeReader } = require(${JSON.stringify(addon)});
      const r = new NativeReader(${JSON.stringify(file)}, { flows: false });
      let first;
      try { r.nextBatch(1 << 24).then(() => console.log('allocated'), (e) => console.log('rejected ' + e.message)); first = 'queued'; }
      catch (e) { first = 'threw ' + e.message; }
      console.log(first);
      r.nextBatch(16).then((b) => console.log('then read ' + b.count), (e) => console.log('then rejected ' + e.message));`;
    // The address space node needs now plus 400 MB: a 16M-packet batch (about 1.7 GB of columns) cannot fit.
    const size = Number(spawnSync(process.execPath, ['-e', script, 'size'], { encoding: 'utf8' }).stdout.trim());
    expect(size).toBeGreaterThan(0);
    const res = spawnSync('bash', ['-c', `ulimit -v ${size + 400_000}; exec "$0" -e "$1" run`, process.execPath, script], { encoding: 'utf8' });
    expect(res.stdout, res.stderr).toMatch(/^threw out of memory allocating a batch of 16777216 packets\nthen read 1\n/);
  });

  it('a recycled batch buffer detached by JavaScript mid-read does not corrupt or crash the next batches', async () => {
    const recs = Array.from({ length: 4000 }, (_, i) => ({ sec: 1 + i, frac: 0, data: eth(0x0800, udp4({ sport: i % 60000 })) }));
    const file = save('detach.pcap', pcap(recs));
    const expectPorts = recs.map((_, i) => i % 60000);
    const ports: number[] = [];
    let before: ArrayBuffer | undefined;
    let detached = 0;
    for await (const b of readPacketBatches(file, { batchSize: 500, reuseBatches: true })) {
      ports.push(...b.srcPort);
      // The generator has already asked for the next batch into the buffer of the batch before this one: detach that
      // buffer now, while the worker is filling it, and drop the memory it moved to.
      if (before && before.byteLength > 0) {
        structuredClone(before, { transfer: [before] });
        detached++;
      }
      before = b.srcPort.buffer as ArrayBuffer;
    }
    expect(detached).toBeGreaterThan(2);
    expect(ports).toEqual(expectPorts);
  });
});
