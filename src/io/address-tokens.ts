// Address tokens: non-address names in IP columns (CIDDS' `10162_65`, `EXT_SERVER`, `ATTACKER1`) as stable pseudo-addresses.
//
// CIDDS-001 anonymises every host outside the lab as a token; in its files most rows hold one. The model needs an
// address, so each token gets one from 240.0.0.0/4 (reserved, "future use"): FNV-1a of the token's UTF-8 bytes picks
// the low 28 bits, so the same token maps to the same address in every file read (the real trace, the synthetic one,
// a holdout file: the evaluation compares them as addresses). A token whose address is taken by another token or by
// a real address of the same file moves to the next free one (linear probing), so it never collides with a real
// address; that rare move is the only thing that can differ between files. Writers turn the addresses back into the
// tokens (`FlowTable.addressTokens`).

/** 240.0.0.0/4: the reserved block pseudo-addresses come from. */
export const TOKEN_NET = 0xf0000000;
const TOKEN_MASK = 0x0fffffff;

/** Whether `s` can be an address token: letters, digits, `_` and `-`, not only digits (an integer is an address). */
export function isAddressToken(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(s) && !/^\d+$/.test(s);
}

/** The token's first-choice pseudo-address (before probing): 240/4 | FNV-1a(name) low 28 bits. */
export function tokenHome(name: string): number {
  let h = 0x811c9dc5;
  const b = Buffer.from(name, 'utf8');
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (TOKEN_NET | (h & TOKEN_MASK)) >>> 0;
}

const inNet = (a: number): boolean => a >>> 28 === 0xf;
const next = (a: number): number => (TOKEN_NET | ((a + 1) & TOKEN_MASK)) >>> 0;

/** Assigns pseudo-addresses while a file is read; `finish` settles collisions with real addresses seen later. */
export class AddressTokenMap {
  private readonly byName = new Map<string, number>();
  private readonly byAddr = new Map<number, string>();
  /** Real addresses of the file inside 240/4 (rare: broadcast, odd lab nets). */
  private readonly real = new Set<number>();
  /** Rows holding a token, per column (counted for the reader's notice). */
  rows = 0;

  get size(): number {
    return this.byName.size;
  }

  /** The pseudo-address of `name` (assigned on first sight). */
  address(name: string): number {
    let a = this.byName.get(name);
    if (a !== undefined) return a;
    a = tokenHome(name);
    while (this.byAddr.has(a) || this.real.has(a)) a = next(a);
    this.byName.set(name, a);
    this.byAddr.set(a, name);
    return a;
  }

  /** Record a real address (only those in 240/4 matter). */
  noteReal(a: number): void {
    if (inNet(a)) this.real.add(a);
  }

  /**
   * Move tokens whose address turned out to be a real address of the file to free ones, rewriting the token rows of
   * the IP columns in place (`tokenBits[row]`: bit 0 = srcip is a token, bit 1 = dstip). Returns the tokens moved.
   */
  finish(src: Uint32Array, dst: Uint32Array, tokenBits: Uint8Array): number {
    const moved = new Map<number, number>();
    for (const [a, name] of [...this.byAddr]) {
      if (!this.real.has(a)) continue;
      let b = next(a);
      while (this.byAddr.has(b) || this.real.has(b)) b = next(b);
      this.byAddr.delete(a);
      this.byAddr.set(b, name);
      this.byName.set(name, b);
      moved.set(a, b);
    }
    if (moved.size === 0) return 0;
    for (let i = 0; i < tokenBits.length; i++) {
      const t = tokenBits[i]!;
      if (t & 1) src[i] = moved.get(src[i]!) ?? src[i]!;
      if (t & 2) dst[i] = moved.get(dst[i]!) ?? dst[i]!;
    }
    return moved.size;
  }

  /** Address → token, for the table and the writers. */
  map(): Map<number, string> {
    return new Map(this.byAddr);
  }

  /** A few token names for messages. */
  examples(k = 3): string[] {
    return [...this.byName.keys()].slice(0, k);
  }
}

/** Address → token as JSON (`{"240.1.2.3": "EXT_SERVER"}` keyed by the integer address) and back. */
export function tokensToJson(m: ReadonlyMap<number, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [a, n] of [...m].sort((x, y) => x[0] - y[0])) out[String(a)] = n;
  return out;
}

export function tokensFromJson(j: Record<string, string> | undefined): Map<number, string> | undefined {
  if (!j) return undefined;
  const m = new Map<number, string>();
  for (const [k, v] of Object.entries(j)) {
    const a = Number(k);
    if (Number.isInteger(a) && a >= 0 && a <= 0xffffffff && typeof v === 'string') m.set(a, v);
  }
  return m.size > 0 ? m : undefined;
}

/**
 * Generated addresses in 240/4 stand for token hosts (the model learnt them from pseudo-addresses): snap each one
 * that is not a token's address to the numerically nearest token address, so a synthetic trace names hosts by the
 * input's tokens rather than by reserved addresses nobody uses (255.255.255.255, a real broadcast, stays). Returns
 * how many addresses moved.
 */
export function snapToTokens(columns: Uint32Array[], n: number, tokens: ReadonlyMap<number, string>): number {
  const addrs = Float64Array.from(tokens.keys()).sort();
  if (addrs.length === 0) return 0;
  let moved = 0;
  for (const col of columns) {
    for (let i = 0; i < n; i++) {
      const a = col[i]!;
      if (!inNet(a) || a === 0xffffffff || tokens.has(a)) continue;
      let lo = 0;
      let hi = addrs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (addrs[mid]! < a) lo = mid + 1;
        else hi = mid;
      }
      let best = addrs[lo]!;
      if (lo > 0 && a - addrs[lo - 1]! < Math.abs(best - a)) best = addrs[lo - 1]!;
      col[i] = best;
      moved++;
    }
  }
  return moved;
}
