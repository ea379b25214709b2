// The batch columns TypeScript declares (PACKET_BATCH_COLUMNS, typed against PacketBatch) are the ones the C column
// list (NETSHARE_PACKET_COLUMNS) makes the addon hand out: same names, same typed arrays.
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../../src/native/addon.js';
import { PACKET_BATCH_COLUMNS, readPacketBatches } from '../../src/native/reader.js';
import { eth, ipv4, ipv6, pcap, save } from './reader-fixtures.js';

interface NativeColumn {
  name: string;
  array: string;
  bytes: number;
}
const native = nativeBinding().packetColumns as NativeColumn[];

describe('packet batch columns', () => {
  it('TypeScript names every column of the C list with its typed array, in the same order', () => {
    expect(native.map((c) => [c.name, c.array])).toEqual(Object.entries(PACKET_BATCH_COLUMNS));
  });

  it('a batch has exactly the listed columns, each with the listed array and bytes per packet', async () => {
    const file = save(
      'columns.pcap',
      pcap([
        { sec: 1, frac: 0, data: eth(0x0800, ipv4({ src: 0x0a000001, dst: 0x0a000002, proto: 17, sport: 53, dport: 999 })) },
        { sec: 2, frac: 0, data: eth(0x86dd, ipv6({ src: [0x20, 1, ...new Array<number>(14).fill(0)], dst: [0x20, 2, ...new Array<number>(14).fill(0)], proto: 6, sport: 1, dport: 2 })) },
        { sec: 3, frac: 0, data: eth(0x0806, new Uint8Array(28)) },
      ]),
    );
    for (const flows of [true, false]) {
      const batches = [];
      for await (const b of readPacketBatches(file, { flows })) batches.push(b);
      expect(batches).toHaveLength(1);
      const b = batches[0]!;
      expect(b.length).toBe(3);
      const { length, stats, closedFlows, ...columns } = b;
      void length;
      void stats;
      void closedFlows;
      const expected = native.filter((c) => flows || c.name !== 'flowId');
      expect(Object.keys(columns).sort()).toEqual(expected.map((c) => c.name).sort());
      for (const c of expected) {
        const v = (columns as Record<string, ArrayBufferView & { BYTES_PER_ELEMENT: number; length: number }>)[c.name]!;
        expect([c.name, v.constructor.name]).toEqual([c.name, c.array]);
        expect([c.name, v.length * v.BYTES_PER_ELEMENT]).toEqual([c.name, 3 * c.bytes]);
      }
    }
  });
});
