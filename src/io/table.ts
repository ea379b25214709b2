// Column tables shared by every stage: packets (from the native reader or a packets CSV) and flow records
// (NetFlow CSV, or flows aggregated from packets). Columns are typed arrays of equal length; the types (and their
// units: µs time, host-order IPv4, 16-byte IPv6) are defined in src/core/columns.ts, below the native reader.
import type { FlowTable, PacketTable, Table } from '../core/columns.js';

export type { FlowRecordColumns, FlowTable, PacketHeaderColumns, PacketTable, Table } from '../core/columns.js';

/** Each record's time, µs since the epoch: packet time, or flow start (`ts`) for flow records. */
export function recordTimes(t: Table): Float64Array {
  return t.kind === 'packets' ? t.time : t.ts;
}

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
