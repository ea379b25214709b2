// A uniform view of packet or flow-record tables for encoding: time, 5-tuple, and NetShare-named field columns.
import { ConfigError, expected } from '../errors.js';
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';

/** NetShare column names → table columns, per table kind. */
const PACKET_COLUMNS: Record<string, keyof PacketTable> = {
  pkt_len: 'pktLen',
  tos: 'tos',
  id: 'ipId',
  flag: 'flags',
  off: 'fragOffset',
  ttl: 'ttl',
  ihl: 'ihl',
  tcp_flags: 'tcpFlags',
  tcp_window: 'tcpWindow',
  label: 'label',
};
const FLOW_COLUMNS: Record<string, keyof FlowTable> = {
  td: 'td',
  pkt: 'pkt',
  byt: 'byt',
  type: 'type',
  label: 'label',
  tos: 'tos',
  flags: 'tcpFlags',
  tcp_flags: 'tcpFlags',
  // what bidirectional inputs (Zeek conn.log, Argus) carry besides NetShare's columns
  rpkt: 'rpkt',
  rbyt: 'rbyt',
  sbyt: 'sbyt',
  dtos: 'dtos',
  state: 'state',
  service: 'service',
  dir: 'dir',
};

export const FIVE_TUPLE = ['srcip', 'dstip', 'srcport', 'dstport', 'proto'] as const;

/**
 * Whether a numeric column holds integers by its type (not by its values): counts, lengths, header fields, ports and
 * protocols do; a flow's duration `td` (seconds) does not. Undefined for a column that is not numeric.
 */
export function columnIsInteger(kind: 'packets' | 'flows', column: string): boolean | undefined {
  if ((FIVE_TUPLE as readonly string[]).includes(column)) return column !== 'srcip' && column !== 'dstip' ? true : undefined;
  if (kind === 'packets') return ['pkt_len', 'tos', 'id', 'flag', 'off', 'ttl', 'ihl', 'tcp_flags', 'tcp_window'].includes(column) ? true : undefined;
  if (column === 'td') return false;
  return ['pkt', 'byt', 'tos', 'flags', 'tcp_flags', 'rpkt', 'rbyt', 'sbyt', 'dtos'].includes(column) ? true : undefined;
}

export interface RecordView {
  kind: 'packets' | 'flows';
  n: number;
  /** Record time, µs (packet time or flow start). */
  time: Float64Array;
  srcIp: Uint32Array;
  dstIp: Uint32Array;
  /** Present when any record is IPv6: 16 bytes per row, network order, with ipVersion. */
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
  ipVersion?: Uint8Array;
  hasIpv6: boolean;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  table: Table;
}

export function recordView(table: Table): RecordView {
  const time = recordTimes(table);
  let hasIpv6 = false;
  if (table.ipVersion && table.srcIp6) for (let i = 0; i < table.length; i++) if (table.ipVersion[i] === 6) { hasIpv6 = true; break; }
  return {
    kind: table.kind,
    n: table.length,
    time,
    srcIp: table.srcIp,
    dstIp: table.dstIp,
    ...(hasIpv6 ? { srcIp6: table.srcIp6!, dstIp6: table.dstIp6!, ipVersion: table.ipVersion! } : {}),
    hasIpv6,
    srcPort: table.srcPort,
    dstPort: table.dstPort,
    proto: table.proto,
    table,
  };
}

/** Whether the table has the column a field names. */
export function hasFieldColumn(view: RecordView, column: string): boolean {
  if ((FIVE_TUPLE as readonly string[]).includes(column)) return true;
  const prop = (view.kind === 'packets' ? PACKET_COLUMNS : FLOW_COLUMNS)[column];
  return Boolean(prop && (view.table as unknown as Record<string, unknown>)[prop]);
}

/** A field column of the table by NetShare name: numbers (typed array) or strings. */
export function fieldColumn(view: RecordView, column: string, key = column): ArrayLike<number> | string[] {
  switch (column) {
    case 'srcport':
      return view.srcPort;
    case 'dstport':
      return view.dstPort;
    case 'proto':
      return view.proto;
    case 'srcip':
      return view.srcIp;
    case 'dstip':
      return view.dstIp;
  }
  const map = view.kind === 'packets' ? PACKET_COLUMNS : FLOW_COLUMNS;
  const prop = map[column];
  const col = prop ? (view.table as unknown as Record<string, unknown>)[prop] : undefined;
  if (!col) {
    const known = [...FIVE_TUPLE, ...Object.keys(map)].join(', ');
    throw new ConfigError(
      expected(`a column this ${view.kind === 'packets' ? 'packet' : 'flow'} trace has (${known})`, key, column),
      key,
    );
  }
  return col as ArrayLike<number> | string[];
}
