// The column types of packet and flow-record tables: the foundation both the native reader (src/native) and the
// table I/O (src/io) build on, so neither has to import the other's types. Types only; helpers live in src/io/table.ts.
//
// Time: tables carry time as float64 MICROSECONDS since the Unix epoch (exact for integer µs up to year 2255;
// at current epochs float64 resolves ~0.25 µs, so nanosecond fractions are NOT kept here). The native reader keeps
// exact nanoseconds in its own batches (`tsNs: BigInt64Array`); conversion to tables divides by 1000.
// IPv4 addresses are uint32 in host order (a.b.c.d -> a<<24|b<<16|c<<8|d). IPv6 addresses, when present, are
// 16 bytes per row in network order in `srcIp6`/`dstIp6`, with `ipVersion` 6 and the uint32 column 0.

/** The IP and L4 header columns of one row per packet: what packet tables and the native reader's batches share. */
export interface PacketHeaderColumns {
  ipVersion: Uint8Array;
  srcIp: Uint32Array;
  dstIp: Uint32Array;
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
}

/** One row per IP packet: the NetShare pcap2csv columns plus the extended header fields. */
export interface PacketTable extends PacketHeaderColumns {
  readonly kind: 'packets';
  length: number;
  /** µs since epoch (float64). */
  time: Float64Array;
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
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

/** The columns of one row per flow record: what flow tables and the native reader's flow batches share. */
export interface FlowRecordColumns {
  srcIp: Uint32Array;
  dstIp: Uint32Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  /** Flow start, µs since epoch. */
  ts: Float64Array;
  /** Duration in seconds (float64), as NetShare's `td`. */
  td: Float64Array;
  pkt: Float64Array;
  byt: Float64Array;
}

/** One row per flow record (NetFlow-like): NetShare's `srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt[,label],type`. */
export interface FlowTable extends FlowRecordColumns {
  readonly kind: 'flows';
  length: number;
  ipVersion?: Uint8Array;
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
  /** Optional extras carried through for downstream tasks and schema round trips. */
  tcpFlags?: Uint8Array;
  tos?: Uint8Array;
  label?: string[];
  type?: string[];
  /**
   * Bidirectional records (Zeek conn.log, Argus): the record stays one flow keyed by its originator (src) 5-tuple;
   * `pkt`/`byt` are what the file counts for it (Zeek: originator → responder; Argus: both directions' totals) and
   * these carry the rest: `rpkt`/`rbyt` responder → originator packets / IP bytes (Zeek), `sbyt` the source's bytes
   * (Argus SrcBytes), `dtos` the destination's TOS (Argus dTos).
   */
  rpkt?: Float64Array;
  rbyt?: Float64Array;
  sbyt?: Float64Array;
  dtos?: Uint8Array;
  /** Connection state (Zeek conn_state, Argus State), application service (Zeek), direction (Argus Dir: `->`, `<->`). */
  state?: string[];
  service?: string[];
  dir?: string[];
  /**
   * Address tokens of the file (src/io/address-tokens.ts): pseudo-address in 240.0.0.0/4 → the name the file had
   * there (CIDDS' `EXT_SERVER`). Writers print the name for these addresses. Not a per-row column.
   */
  addressTokens?: ReadonlyMap<number, string>;
}

export type Table = PacketTable | FlowTable;
