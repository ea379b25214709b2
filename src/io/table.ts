// Column tables shared by every stage: packets (from the native reader or a packets CSV) and flow records
// (NetFlow CSV, or flows aggregated from packets). Columns are typed arrays of equal length.
//
// Time: tables carry time as float64 MICROSECONDS since the Unix epoch (exact for integer µs up to year 2255;
// at current epochs float64 resolves ~0.25 µs, so nanosecond fractions are NOT kept here). The native reader keeps
// exact nanoseconds in its own batches (`tsNs: BigInt64Array`); conversion to tables divides by 1000.
// IPv4 addresses are uint32 in host order (a.b.c.d -> a<<24|b<<16|c<<8|d). IPv6 addresses, when present, are
// 16 bytes per row in network order in `srcIp6`/`dstIp6`, with `ipVersion` 6 and the uint32 column 0.

/** One row per IP packet: the NetShare pcap2csv columns plus the extended header fields. */
export interface PacketTable {
  readonly kind: 'packets';
  length: number;
  /** µs since epoch (float64). */
  time: Float64Array;
  ipVersion: Uint8Array;
  srcIp: Uint32Array;
  dstIp: Uint32Array;
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  /** IP total length (IPv6: payload length + 40). */
  pktLen: Uint32Array;
  /** IPv4 header length in bytes (20..60); 40 for IPv6. */
  ihl: Uint8Array;
  tos: Uint8Array;
  ipId: Uint32Array;
  /** IPv4 flags (3 bits: reserved, DF, MF). */
  flags: Uint8Array;
  /** Fragment offset in 8-byte units. */
  fragOffset: Uint16Array;
  ttl: Uint8Array;
  ipChecksum: Uint16Array;
  tcpFlags: Uint8Array;
  tcpWindow: Uint16Array;
  /**
   * ICMP/ICMPv6 type and code (0 on other rows). Optional: the native reader fills them (its ICMP rows have
   * srcPort/dstPort 0, as flows count them); sources without them (e.g. a packets CSV) leave them out, and the pcap
   * writer then takes an ICMP row's type/code from srcPort/dstPort.
   */
  icmpType?: Uint8Array;
  icmpCode?: Uint8Array;
  /** Optional label column (downstream tasks); -1 / '' when absent. */
  label?: string[];
}

/** One row per flow record (NetFlow-like): NetShare's `srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt[,label],type`. */
export interface FlowTable {
  readonly kind: 'flows';
  length: number;
  srcIp: Uint32Array;
  dstIp: Uint32Array;
  ipVersion?: Uint8Array;
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  /** Flow start, µs since epoch. */
  ts: Float64Array;
  /** Duration in seconds (float64), as NetShare's `td`. */
  td: Float64Array;
  pkt: Float64Array;
  byt: Float64Array;
  /** Optional extras carried through for downstream tasks and schema round trips. */
  tcpFlags?: Uint8Array;
  tos?: Uint8Array;
  label?: string[];
  type?: string[];
}

export type Table = PacketTable | FlowTable;

/** Allocate an empty packet table of `n` rows. */
export function allocPacketTable(n: number, withIp6 = false): PacketTable {
  return {
    kind: 'packets',
    length: n,
    time: new Float64Array(n),
    ipVersion: new Uint8Array(n),
    srcIp: new Uint32Array(n),
    dstIp: new Uint32Array(n),
    ...(withIp6 ? { srcIp6: new Uint8Array(16 * n), dstIp6: new Uint8Array(16 * n) } : {}),
    srcPort: new Uint16Array(n),
    dstPort: new Uint16Array(n),
    proto: new Uint8Array(n),
    pktLen: new Uint32Array(n),
    ihl: new Uint8Array(n),
    tos: new Uint8Array(n),
    ipId: new Uint32Array(n),
    flags: new Uint8Array(n),
    fragOffset: new Uint16Array(n),
    ttl: new Uint8Array(n),
    ipChecksum: new Uint16Array(n),
    tcpFlags: new Uint8Array(n),
    tcpWindow: new Uint16Array(n),
  };
}

/** Allocate an empty flow table of `n` rows. */
export function allocFlowTable(n: number): FlowTable {
  return {
    kind: 'flows',
    length: n,
    srcIp: new Uint32Array(n),
    dstIp: new Uint32Array(n),
    srcPort: new Uint16Array(n),
    dstPort: new Uint16Array(n),
    proto: new Uint8Array(n),
    ts: new Float64Array(n),
    td: new Float64Array(n),
    pkt: new Float64Array(n),
    byt: new Float64Array(n),
  };
}

/** Dotted-quad text of a host-order uint32 IPv4 address. */
export function ipv4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Parse dotted-quad text to a host-order uint32; returns -1 when malformed. */
export function parseIpv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return -1;
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0 || n > 255) return -1;
    v = v * 256 + n;
  }
  return v >>> 0;
}
