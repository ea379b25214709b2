// IP protocol numbers <-> the names NetFlow CSVs use (TCP, UDP, ICMP, GRE, ...), as in UGR16 and NetShare's CSVs.

const NAMES: Record<number, string> = {
  0: 'HOPOPT',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  46: 'RSVP',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  89: 'OSPF',
  103: 'PIM',
  132: 'SCTP',
  // NetShare's preprocessing maps a protocol its table has no number for ("Other" in CIDDS/UGR16 exports) to 255
  255: 'Other',
};

const BY_NAME = new Map<string, number>();
for (const [k, v] of Object.entries(NAMES)) BY_NAME.set(v.toUpperCase(), Number(k));
BY_NAME.set('IPV4', 4);
BY_NAME.set('IPINIP', 4);
BY_NAME.set('ICMP6', 58);
BY_NAME.set('IPV6-ICMP', 58);

/** Protocol name for CSV output: the usual name when known, else the decimal number. */
export function protoName(p: number): string {
  return NAMES[p] ?? String(p);
}

/** Protocol number from a name (case-insensitive) or a decimal 0..255; -1 when unknown. */
export function protoNumber(s: string): number {
  const t = s.trim();
  if (/^\d+(\.0*)?$/.test(t)) {
    const n = Math.trunc(Number(t));
    return n >= 0 && n <= 255 ? n : -1;
  }
  return BY_NAME.get(t.toUpperCase()) ?? -1;
}
