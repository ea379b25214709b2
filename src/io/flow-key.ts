// The 5-tuple flow key, one implementation for every stage (chunking, encoding, evaluation, generation, postprocess):
// four 32-bit words per record (IPv4 addresses as is, IPv6 addresses folded, the version marked in word 3) hashed in
// an open-addressing table that compares IPv6 rows on their full 16-byte addresses, so keys are exact.

/** The columns a 5-tuple is read from: any Table (packets or flow records). */
export interface TupleColumns {
  length: number;
  srcIp: Uint32Array;
  dstIp: Uint32Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  ipVersion?: Uint8Array;
  /** 16 bytes per row, network order; rows with ipVersion 6 are keyed on them. */
  srcIp6?: Uint8Array;
  dstIp6?: Uint8Array;
}

/** Word 3's mark of an IPv6 row (above the 8-bit protocol). */
const V6 = 0x600;

/** 32-bit fold of a 16-byte IPv6 address (FNV-1a), the address word of IPv6 rows. */
function fold6(bytes: Uint8Array, row: number): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < 16; k++) h = Math.imul(h ^ bytes[16 * row + k]!, 0x01000193);
  return h >>> 0;
}

function isV6(t: TupleColumns, i: number): boolean {
  return t.ipVersion !== undefined && t.ipVersion[i] === 6 && t.srcIp6 !== undefined && t.dstIp6 !== undefined;
}

/** The four 32-bit words of record i's 5-tuple (IPv6 addresses folded; version kept in word 3). */
export function keyWords(t: TupleColumns, i: number, out: Uint32Array): void {
  const v6 = isV6(t, i);
  out[0] = v6 ? fold6(t.srcIp6!, i) : t.srcIp[i]!;
  out[1] = v6 ? fold6(t.dstIp6!, i) : t.dstIp[i]!;
  out[2] = ((t.srcPort[i]! << 16) | t.dstPort[i]!) >>> 0;
  out[3] = t.proto[i]! | (v6 ? V6 : 0);
}

/** The four key words of every record as columns (one pass; IPv6 rows folded as in keyWords). */
export function tupleColumns(t: TupleColumns): [Uint32Array, Uint32Array, Uint32Array, Uint32Array] {
  const n = t.length;
  const a = new Uint32Array(t.srcIp.subarray(0, n));
  const b = new Uint32Array(t.dstIp.subarray(0, n));
  const c = new Uint32Array(n);
  const d = new Uint32Array(n);
  const sp = t.srcPort;
  const dp = t.dstPort;
  const pr = t.proto;
  for (let i = 0; i < n; i++) {
    c[i] = ((sp[i]! << 16) | dp[i]!) >>> 0;
    d[i] = pr[i]!;
  }
  const ver = t.ipVersion;
  if (ver && t.srcIp6 && t.dstIp6) {
    for (let i = 0; i < n; i++) {
      if (ver[i] !== 6) continue;
      a[i] = fold6(t.srcIp6, i);
      b[i] = fold6(t.dstIp6, i);
      d[i] = d[i]! | V6;
    }
  }
  return [a, b, c, d];
}

function mix(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ d, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function sameBytes(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  for (let k = 0; k < 16; k++) if (a[ai + k] !== b[bi + k]) return false;
  return true;
}

/**
 * Exact 5-tuples → dense ids 0, 1, 2, … in order of first insertion. Slot s holds [w0, w1, w2, w3, id + 1]
 * contiguously (one cache line per probe); an IPv6 key also keeps its two addresses, compared in full on a word match.
 * Grows by doubling at load 1/2, so memory follows the distinct tuples, not the records.
 */
export class TupleIds {
  private slots: Uint32Array;
  private mask: number;
  /** Distinct tuples seen. */
  size = 0;
  /** Per id: 1 + offset of its 32 address bytes in `addr6`, or 0 for an IPv4 key. */
  private addr6Of = new Int32Array(16);
  private addr6 = new Uint8Array(0);
  private n6 = 0;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap <<= 1;
    this.slots = new Uint32Array(5 * cap);
    this.mask = cap - 1;
  }

  /**
   * The id of the tuple (w0..w3) — a new one when unseen. IPv6 rows (w3 & 0x600) pass their address columns and row
   * (`src6`, `dst6`, `row`), which a new key copies and a word match is checked against.
   */
  id(w0: number, w1: number, w2: number, w3: number, src6?: Uint8Array, dst6?: Uint8Array, row = 0): number {
    return this.lookup(w0, w1, w2, w3, src6, dst6, row, true);
  }

  /** The id of the tuple, or −1 when it was never added. */
  find(w0: number, w1: number, w2: number, w3: number, src6?: Uint8Array, dst6?: Uint8Array, row = 0): number {
    return this.lookup(w0, w1, w2, w3, src6, dst6, row, false);
  }

  /**
   * Ids of many records at once: record i's words are c0[i]..c3[i] (tupleColumns), visited in `order` (default
   * 0..n−1); writes `ids[i]` and, for each new id, `first[id] = i`. The per-record loop of indexFlows, kept here so
   * the table's arrays stay in locals.
   */
  assign(cols: readonly [Uint32Array, Uint32Array, Uint32Array, Uint32Array], src6: Uint8Array | undefined, dst6: Uint8Array | undefined, order: ArrayLike<number> | undefined, ids: Int32Array, first: Int32Array): void {
    const [c0, c1, c2, c3] = cols;
    const m = order ? order.length : c0.length;
    let slots = this.slots;
    let mask = this.mask;
    for (let r = 0; r < m; r++) {
      const i = order ? order[r]! : r;
      const w0 = c0[i]!;
      const w1 = c1[i]!;
      const w2 = c2[i]!;
      const w3 = c3[i]!;
      let s = mix(w0, w1, w2, w3) & mask;
      for (;;) {
        const o = 5 * s;
        const id1 = slots[o + 4]!;
        if (id1 === 0) {
          const id = this.insert(o, w0, w1, w2, w3, src6, dst6, i);
          first[id] = i;
          ids[i] = id;
          slots = this.slots;
          mask = this.mask;
          break;
        }
        if (slots[o] === w0 && slots[o + 1] === w1 && slots[o + 2] === w2 && slots[o + 3] === w3 && ((w3 & V6) === 0 || this.same6(id1 - 1, src6!, dst6!, i))) {
          ids[i] = id1 - 1;
          break;
        }
        s = (s + 1) & mask;
      }
    }
  }

  private lookup(w0: number, w1: number, w2: number, w3: number, src6: Uint8Array | undefined, dst6: Uint8Array | undefined, row: number, add: boolean): number {
    const slots = this.slots;
    const mask = this.mask;
    let s = mix(w0, w1, w2, w3) & mask;
    for (;;) {
      const o = 5 * s;
      const id1 = slots[o + 4]!;
      if (id1 === 0) return add ? this.insert(o, w0, w1, w2, w3, src6, dst6, row) : -1;
      if (slots[o] === w0 && slots[o + 1] === w1 && slots[o + 2] === w2 && slots[o + 3] === w3 && ((w3 & V6) === 0 || this.same6(id1 - 1, src6!, dst6!, row))) return id1 - 1;
      s = (s + 1) & mask;
    }
  }

  /** A new id in the empty slot at word offset `o`; grows the table past load 1/2. */
  private insert(o: number, w0: number, w1: number, w2: number, w3: number, src6: Uint8Array | undefined, dst6: Uint8Array | undefined, row: number): number {
    const id = this.size++;
    const slots = this.slots;
    slots[o] = w0;
    slots[o + 1] = w1;
    slots[o + 2] = w2;
    slots[o + 3] = w3;
    slots[o + 4] = id + 1;
    if (w3 & V6) this.keep6(id, src6!, dst6!, row);
    if (this.size * 2 > this.mask + 1) this.grow();
    return id;
  }

  private same6(id: number, src6: Uint8Array, dst6: Uint8Array, row: number): boolean {
    const at = this.addr6Of[id]! - 1;
    return sameBytes(this.addr6, at, src6, 16 * row) && sameBytes(this.addr6, at + 16, dst6, 16 * row);
  }

  private keep6(id: number, src6: Uint8Array, dst6: Uint8Array, row: number): void {
    if (id >= this.addr6Of.length) {
      let len = this.addr6Of.length * 2;
      while (len <= id) len *= 2;
      const next = new Int32Array(len);
      next.set(this.addr6Of);
      this.addr6Of = next;
    }
    const at = 32 * this.n6++;
    if (at + 32 > this.addr6.length) {
      const next = new Uint8Array(Math.max(1024, this.addr6.length * 2));
      next.set(this.addr6);
      this.addr6 = next;
    }
    this.addr6.set(src6.subarray(16 * row, 16 * row + 16), at);
    this.addr6.set(dst6.subarray(16 * row, 16 * row + 16), at + 16);
    this.addr6Of[id] = at + 1;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = new Uint32Array(5 * cap);
    this.mask = cap - 1;
    for (let o = 0; o < old.length; o += 5) {
      if (old[o + 4] === 0) continue;
      let s = mix(old[o]!, old[o + 1]!, old[o + 2]!, old[o + 3]!) & this.mask;
      while (this.slots[5 * s + 4] !== 0) s = (s + 1) & this.mask;
      this.slots.set(old.subarray(o, o + 5), 5 * s);
    }
  }
}

/** Record → 5-tuple flow assignment. Flow ids are numbered in order of first appearance. */
export interface FlowIndex {
  /** Flow id of each record (−1 for a record left out of `order`). */
  flowOf: Int32Array;
  /** Number of distinct 5-tuples. */
  count: number;
  /** Record index of each flow's first record (in visiting order). */
  first: Int32Array;
}

/**
 * Assign the records of `t` to their 5-tuple flows (NetShare flows: every record sharing the 5-tuple; no timeout).
 * O(n), exact. Records are visited in table order, or in `order` (ids then number flows by first appearance in that
 * order; records not in it get flow −1).
 */
export function indexFlows(t: TupleColumns, order?: ArrayLike<number>): FlowIndex {
  const n = t.length;
  const m = order ? order.length : n;
  const ids = new TupleIds(Math.min(m, 1 << 22)); // no rehash up to 4M records; beyond, memory follows the flows
  const flowOf = new Int32Array(n);
  if (order) flowOf.fill(-1);
  const first = new Int32Array(Math.max(1, m));
  ids.assign(tupleColumns(t), t.srcIp6, t.dstIp6, order, flowOf, first);
  return { flowOf, count: ids.size, first: first.slice(0, ids.size) };
}

/** A set of exact 5-tuples over rows of any tables. */
export class TupleSet {
  private readonly ids: TupleIds;
  private readonly w = new Uint32Array(4);
  constructor(expected = 1024) {
    this.ids = new TupleIds(expected);
  }
  get size(): number {
    return this.ids.size;
  }
  /** Add row `i` of `t`; returns true when its tuple was new. */
  add(t: TupleColumns, i: number): boolean {
    const w = this.w;
    keyWords(t, i, w);
    const before = this.ids.size;
    this.ids.id(w[0]!, w[1]!, w[2]!, w[3]!, t.srcIp6, t.dstIp6, i);
    return this.ids.size > before;
  }
  has(t: TupleColumns, i: number): boolean {
    const w = this.w;
    keyWords(t, i, w);
    return this.ids.find(w[0]!, w[1]!, w[2]!, w[3]!, t.srcIp6, t.dstIp6, i) >= 0;
  }
}
