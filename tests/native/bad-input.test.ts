// Crafted bad captures: each gives an InputError naming the file and byte offset (or a documented warning), never a
// crash or hang; keepValidPrefix keeps the records before the damage.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readPacketBatches, type ReadOptions, type ReadStats } from '../../src/native/reader.js';
import { eth, ipv4, pcap, pcapngSection, save, tmp } from './reader-fixtures.js';

const pkt = eth(0x0800, ipv4({ src: 0x01020304, dst: 0x05060708, proto: 17, sport: 1, dport: 2 }));
const good = pcap([0, 1, 2].map((i) => ({ sec: 10 + i, frac: 0, data: pkt })));
const recSize = 16 + pkt.length;

async function read(file: string, opts: ReadOptions = {}): Promise<ReadStats> {
  let stats: ReadStats | undefined;
  for await (const b of readPacketBatches(file, opts)) stats = b.stats;
  return stats!;
}

async function inputError(file: string, opts: ReadOptions = {}): Promise<InputError> {
  const err = await read(file, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.file).toBe(file);
  expect(e.message).toContain(file);
  return e;
}

describe('files that cannot be opened', () => {
  it('missing file', async () => {
    const e = await inputError(join(tmp, 'no-such.pcap'));
    expect(e.message).toMatch(/no such file/i);
  });

  it('a directory', async () => {
    const d = join(tmp, 'a-dir.pcap');
    mkdirSync(d, { recursive: true });
    expect((await inputError(d)).message).toMatch(/directory/);
  });

  it('empty file, wrong magic, truncated file header: offset 0, even with keepValidPrefix', async () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty.pcap', new Uint8Array(0), /empty file/],
      ['text.pcap', Buffer.from('srcip,dstip\n1,2\n'), /unknown file format/],
      ['erf.erf', Uint8Array.from([0, 0x47, 0x2f, 0, 1, 2, 3, 4, 5, 6]), /unknown file format \(first bytes 00 47 2f 00\)/],
      ['short.pcap', good.subarray(0, 10), /header/],
      ['gz-text.pcap.gz', gzipSync(Buffer.from('hello, world\n')), /inside the gzip stream/],
    ];
    for (const [name, bytes, msg] of cases) {
      for (const keepValidPrefix of [false, true]) {
        const e = await inputError(save(name, bytes), { keepValidPrefix });
        expect(e.message).toMatch(msg);
        expect(e.where?.offset).toBe(0);
      }
    }
  });
});

describe('damaged classic pcap', () => {
  const cases: Array<[string, Uint8Array, number, RegExp]> = [
    ['trunc-rec-header.pcap', Buffer.concat([good, Buffer.from([1, 2])]), 24 + 3 * recSize, /truncated dump file.*header/],
    ['trunc-rec-data.pcap', good.subarray(0, good.length - 5), 24 + 2 * recSize, /truncated dump file.*captured bytes/],
    [
      'huge-caplen.pcap',
      (() => {
        const b = Buffer.from(good);
        b.writeUInt32LE(0xea00010d, 24 + 2 * recSize + 8);
        return b;
      })(),
      24 + 2 * recSize,
      /invalid packet capture length 3925868813/,
    ],
  ];
  for (const [name, bytes, offset, msg] of cases) {
    it(`${name}: InputError at the record's offset; keepValidPrefix keeps the records before it`, async () => {
      const f = save(name, bytes);
      const e = await inputError(f);
      expect(e.message).toMatch(msg);
      expect(e.where?.offset).toBe(offset);
      const s = await read(f, { keepValidPrefix: true });
      expect(s.packets).toBe((offset - 24) / recSize);
      expect(s.warnings.join('\n')).toContain(`byte offset ${offset}`);
    });
  }

  it('a truncated gzip stream is an InputError too', async () => {
    const gz = gzipSync(good);
    await inputError(save('cut.pcap.gz', gz.subarray(0, gz.length - 12)));
  });
});

describe('damaged pcapng', () => {
  const ok = pcapngSection([{ linktype: 1 }], [0, 1].map((i) => ({ iface: 0, ts: BigInt(i), data: pkt })));
  const shbLen = 28;
  const idbLen = 20;
  const firstEpb = shbLen + idbLen;
  const epbLen = 32 + ((pkt.length + 3) & ~3);

  const patch = (at: number, v: number): Buffer => {
    const b = Buffer.from(ok);
    b.writeUInt32LE(v >>> 0, at);
    return b;
  };
  const cases: Array<[string, Uint8Array, number, RegExp]> = [
    ['ng-len-not-mult4.pcapng', patch(firstEpb + 4, epbLen + 2), firstEpb, /invalid pcapng block length/],
    ['ng-len-too-small.pcapng', patch(firstEpb + 4, 8), firstEpb, /invalid pcapng block length 8/],
    ['ng-len-absurd.pcapng', patch(firstEpb + 4, 0x7ffffff0), firstEpb, /invalid pcapng block length/],
    ['ng-trailer.pcapng', patch(firstEpb + epbLen - 4, epbLen + 4), firstEpb, /trailing length/],
    ['ng-bad-iface.pcapng', patch(firstEpb + 8, 3), firstEpb, /interface 3 but the section has 1/],
    ['ng-caplen-past-block.pcapng', patch(firstEpb + 20, 5000), firstEpb, /captured length 5000 exceeds its block/],
    ['ng-cut.pcapng', ok.subarray(0, ok.length - 10), firstEpb + epbLen, /truncated pcapng file/],
    ['ng-bad-bom.pcapng', patch(8, 0x11223344), 0, /byte-order magic/],
  ];
  for (const [name, bytes, offset, msg] of cases) {
    it(`${name}: InputError at byte offset ${offset}`, async () => {
      const f = save(name, bytes);
      const e = await inputError(f);
      expect(e.message).toMatch(msg);
      expect(e.where?.offset).toBe(offset);
      if (offset > firstEpb) {
        const s = await read(f, { keepValidPrefix: true });
        expect(s.packets).toBe(1);
      }
    });
  }

  it('no Interface Description Block: InputError even with keepValidPrefix (the file never opens)', async () => {
    const f = save('ng-no-idb.pcapng', ok.subarray(0, shbLen));
    for (const keepValidPrefix of [false, true]) expect((await inputError(f, { keepValidPrefix })).message).toMatch(/no Interface Description Block/);
  });

  it('a packet block before any IDB is an InputError', async () => {
    const noIdb = Buffer.concat([ok.subarray(0, shbLen), ok.subarray(firstEpb)]);
    expect((await inputError(save('ng-epb-first.pcapng', noIdb))).where?.offset).toBe(shbLen);
  });

  it('unknown block types are skipped as the pcapng spec requires, with a warning naming the offset', async () => {
    const f = save('ng-unknown.pcapng', pcapngSection([{ linktype: 1 }], [{ iface: 0, ts: 1n, data: pkt }], { extra: [[0x12345, [1, 2, 3, 4]]] }));
    const s = await read(f);
    expect(s.packets).toBe(1);
    expect(s.warnings).toEqual([`skipped pcapng block of unknown type 0x12345 at byte offset ${firstEpb}`]);
  });
});

describe('mutated captures never crash or hang', () => {
  it('random byte flips / truncations of pcap and pcapng: either read or an InputError', async () => {
    const ng = pcapngSection([{ linktype: 1, tsresol: 9 }, { linktype: 113 }], [0, 1, 2, 3].map((i) => ({ iface: i % 2, ts: BigInt(i), data: pkt })));
    const bases = [good, ng];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (which, flips, cut) => {
          const base = Buffer.from(bases[which]!);
          for (const [pos, v] of flips) base[pos % base.length] = v;
          const bytes = cut === undefined ? base : base.subarray(0, cut % (base.length + 1));
          const f = save(`fuzz-${n++ % 8}.bin`, bytes);
          try {
            const s = await read(f, { flows: true });
            // counters stay consistent with each other and with the bytes there were (a record takes ≥ 16 bytes)
            expect(s.packets).toBeLessThanOrEqual(s.records);
            expect(s.records).toBeLessThanOrEqual(Math.floor(bytes.length / 16));
            expect(s.flows).toBeLessThanOrEqual(s.packets);
            expect(s.tcp + s.udp + s.icmp + s.otherIp).toBeLessThanOrEqual(s.ipv4 + s.ipv6);
            expect(s.ipv4 + s.ipv6).toBeLessThanOrEqual(s.packets);
          } catch (e) {
            expect(e).toBeInstanceOf(InputError);
          }
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });
});
