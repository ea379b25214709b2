// fast-check generators of valid packet rows and PacketTables for the writer tests (round trip, tshark).
import fc from 'fast-check';
import { allocPacketTable, type PacketTable } from '../../src/io/table.js';

/** One packet as plain values; `src6`/`dst6` are used when `ipVersion` is 6. */
export interface PacketRow {
  ipVersion: 4 | 6;
  src: number;
  dst: number;
  src6: number[];
  dst6: number[];
  srcPort: number;
  dstPort: number;
  proto: number;
  pktLen: number;
  ihl: number;
  tos: number;
  ipId: number;
  flags: number;
  fragOffset: number;
  ttl: number;
  tcpFlags: number;
  tcpWindow: number;
  /** µs step from the previous row. */
  dt: number;
}

/** IPv6 next-header values a reader walks as extension headers (or tunnels): never used as the upper layer. */
const V6_NOT_UPPER = new Set([0, 4, 41, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254]);
/** IPv4 protocols a dissector treats as an encapsulated IP packet (a zero payload would be a bogus inner header). */
const V4_TUNNELS = new Set([4, 41]);

export interface RowOptions {
  /** Largest IP total length to generate (full-mode files stay small with ~1500). */
  maxLen?: number;
  /** Protocol numbers other than TCP/UDP/ICMP to draw from (default: any number that is not a tunnel/extension). */
  otherProtos?: number[];
  /** ICMP (v4) [type, largest code] pairs to draw from (default: any type and code 0..255). */
  icmpTypes?: Array<[number, number]>;
  /** ICMPv6 [type, largest code] pairs to draw from (default: any type and code 0..255). */
  icmp6Types?: Array<[number, number]>;
  /** Smallest payload (bytes after the L4 header) of packets whose protocol is not TCP/UDP/ICMP. */
  minOtherPayload?: number;
}

function icmpPair(pairs: Array<[number, number]> | undefined): fc.Arbitrary<[number, number]> {
  if (pairs === undefined) return fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }));
  return fc
    .constantFrom(...pairs)
    .chain(([type, maxCode]) => fc.integer({ min: 0, max: maxCode }).map((code): [number, number] => [type, code]));
}

export function packetRow(opts: RowOptions = {}): fc.Arbitrary<PacketRow> {
  const maxLen = opts.maxLen ?? 1500;
  const other =
    opts.otherProtos !== undefined
      ? fc.constantFrom(...opts.otherProtos)
      : fc.integer({ min: 0, max: 255 }).filter((p) => ![1, 6, 17, 58].includes(p) && !V4_TUNNELS.has(p) && !V6_NOT_UPPER.has(p));
  const addr6 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });
  return fc
    .record({
      ipVersion: fc.constantFrom<4 | 6>(4, 4, 4, 6),
      kind: fc.constantFrom('tcp', 'tcp', 'udp', 'udp', 'icmp', 'other'),
      src: fc.integer({ min: 0, max: 0xffffffff }),
      dst: fc.integer({ min: 0, max: 0xffffffff }),
      src6: addr6,
      dst6: addr6,
      sport: fc.integer({ min: 0, max: 65535 }),
      dport: fc.integer({ min: 0, max: 65535 }),
      icmp4: icmpPair(opts.icmpTypes),
      icmp6: icmpPair(opts.icmp6Types),
      other,
      extraLen: fc.integer({ min: 0, max: maxLen }),
      options: fc.integer({ min: 0, max: 10 }),
      tos: fc.integer({ min: 0, max: 255 }),
      id16: fc.integer({ min: 0, max: 65535 }),
      id32: fc.integer({ min: 0, max: 0xffffffff }),
      flags: fc.integer({ min: 0, max: 7 }),
      frag: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'none', 'first', 'later'),
      fragOffset: fc.integer({ min: 1, max: 8191 }),
      ttl: fc.integer({ min: 0, max: 255 }),
      tcpFlags: fc.integer({ min: 0, max: 255 }),
      tcpWindow: fc.integer({ min: 0, max: 65535 }),
      dt: fc.integer({ min: 0, max: 2_000_000 }),
    })
    .map((r): PacketRow => {
      const v6 = r.ipVersion === 6;
      const proto = r.kind === 'tcp' ? 6 : r.kind === 'udp' ? 17 : r.kind === 'icmp' ? (v6 ? 58 : 1) : r.other;
      const later = r.frag === 'later';
      const first = r.frag === 'first';
      const l4 = later ? 0 : proto === 6 ? 20 : proto === 17 || proto === 1 || proto === 58 ? 8 : 0;
      const ihl = v6 ? 40 : 20 + 4 * r.options;
      const ext = v6 && r.frag !== 'none' ? 8 : 0;
      const hasPorts = !later && (proto === 6 || proto === 17);
      const isIcmp = !later && (proto === 1 || proto === 58);
      const icmpType = (v6 ? r.icmp6 : r.icmp4)[0];
      const isIcmpError = isIcmp && (v6 ? icmpType < 128 : ![0, 8, 13, 14, 15, 16, 17, 18].includes(icmpType));
      let flags: number;
      if (v6) flags = first ? 1 : later ? r.flags & 1 : 0;
      else flags = first ? (r.flags | 1) & ~2 : later ? r.flags & ~2 : r.flags & ~1;
      return {
        ipVersion: r.ipVersion,
        src: r.src,
        dst: r.dst,
        src6: r.src6,
        dst6: r.dst6,
        srcPort: hasPorts ? r.sport : isIcmp ? (v6 ? r.icmp6 : r.icmp4)[0] : 0,
        dstPort: hasPorts ? r.dport : isIcmp ? (v6 ? r.icmp6 : r.icmp4)[1] : 0,
        proto,
        // A non-first fragment always carries data; other protocols get room for their own header; ICMP error
        // messages quote the invoking packet (at least its IP header + 8 bytes).
        pktLen: ihl + ext + l4 + Math.max(r.extraLen, later ? 8 : l4 === 0 ? (opts.minOtherPayload ?? 0) : isIcmpError ? 48 : 0),
        ihl,
        tos: r.tos,
        ipId: v6 ? (r.frag === 'none' ? 0 : r.id32) : r.id16,
        flags,
        fragOffset: later ? r.fragOffset : 0,
        ttl: r.ttl,
        tcpFlags: proto === 6 && !later ? r.tcpFlags : 0,
        tcpWindow: proto === 6 && !later ? r.tcpWindow : 0,
        dt: r.dt,
      };
    });
}

/** A PacketTable of the given rows, times starting at `t0` µs (integer µs). */
export function tableOf(rows: PacketRow[], t0 = 1_521_129_600_000_000): PacketTable {
  const withIp6 = rows.some((r) => r.ipVersion === 6);
  const t = allocPacketTable(rows.length, withIp6);
  let time = t0;
  rows.forEach((r, i) => {
    time += r.dt;
    t.time[i] = time;
    t.ipVersion[i] = r.ipVersion;
    if (r.ipVersion === 4) {
      t.srcIp[i] = r.src;
      t.dstIp[i] = r.dst;
    } else {
      t.srcIp6!.set(r.src6, 16 * i);
      t.dstIp6!.set(r.dst6, 16 * i);
    }
    t.srcPort[i] = r.srcPort;
    t.dstPort[i] = r.dstPort;
    t.proto[i] = r.proto;
    t.pktLen[i] = r.pktLen;
    t.ihl[i] = r.ihl;
    t.tos[i] = r.tos;
    t.ipId[i] = r.ipId;
    t.flags[i] = r.flags;
    t.fragOffset[i] = r.fragOffset;
    t.ttl[i] = r.ttl;
    t.tcpFlags[i] = r.tcpFlags;
    t.tcpWindow[i] = r.tcpWindow;
  });
  return t;
}

export function packetTable(opts: RowOptions & { minRows?: number; maxRows?: number } = {}): fc.Arbitrary<PacketTable> {
  return fc
    .array(packetRow(opts), { minLength: opts.minRows ?? 1, maxLength: opts.maxRows ?? 200 })
    .map((rows) => tableOf(rows));
}

/** IPv4 header checksum of a row as the writer must emit it (options are zero bytes), computed independently. */
export function ipv4HeaderChecksum(t: PacketTable, i: number): number {
  const ihl = t.ihl[i]!;
  const words = [
    (0x40 | (ihl >> 2)) * 256 + t.tos[i]!,
    t.pktLen[i]!,
    t.ipId[i]!,
    (t.flags[i]! << 13) | t.fragOffset[i]!,
    t.ttl[i]! * 256 + t.proto[i]!,
    t.srcIp[i]! >>> 16,
    t.srcIp[i]! & 0xffff,
    t.dstIp[i]! >>> 16,
    t.dstIp[i]! & 0xffff,
  ];
  let s = words.reduce((a, b) => a + b, 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return ~s & 0xffff;
}
