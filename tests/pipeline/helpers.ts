// Shared helpers of the pipeline tests: a synthetic packet trace (no shared data needed) and tiny model configs.
import { spawnSync } from 'node:child_process';
import { allocPacketTable, type PacketTable } from '../../src/io/table.js';

/** `flows` TCP/UDP 5-tuples with 2–9 packets each, spread over `spanS` seconds from 2017-07-14. Deterministic. */
export function syntheticPackets(flows = 40, spanS = 2, gapAtS?: [number, number]): PacketTable {
  let s = 12345;
  const r = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const rows: { t: number; f: number; k: number }[] = [];
  for (let f = 0; f < flows; f++) {
    let t = r() * spanS * 0.8;
    if (gapAtS && t > gapAtS[0] && t < gapAtS[1]) t = gapAtS[0] * r();
    const n = 2 + Math.floor(r() * 8);
    for (let k = 0; k < n; k++) {
      rows.push({ t, f, k });
      t += r() * spanS * 0.02;
      if (gapAtS && t > gapAtS[0] && t < gapAtS[1]) t = gapAtS[1] + r() * 0.01;
    }
  }
  rows.sort((a, b) => a.t - b.t);
  const p = allocPacketTable(rows.length);
  const t0 = 1_500_000_000_000_000;
  rows.forEach((row, i) => {
    const tcp = row.f % 3 !== 0;
    p.time[i] = t0 + Math.round(row.t * 1e6);
    p.ipVersion[i] = 4;
    p.srcIp[i] = ((10 << 24) | (row.f % 7 << 8) | (1 + (row.f % 5))) >>> 0;
    p.dstIp[i] = ((192 << 24) | (168 << 16) | (row.f % 4)) >>> 0;
    p.srcPort[i] = 30000 + row.f;
    p.dstPort[i] = tcp ? (row.f % 2 ? 443 : 80) : 53;
    p.proto[i] = tcp ? 6 : 17;
    p.pktLen[i] = tcp ? 40 + ((row.k * 97 + row.f * 13) % 1400) : 28 + ((row.f * 31) % 400);
    p.ihl[i] = 20;
    p.tos[i] = 0;
    p.ipId[i] = (row.f * 100 + row.k) & 0xffff;
    p.flags[i] = 2;
    p.ttl[i] = 64 - (row.f % 3);
    p.tcpFlags[i] = tcp ? (row.k === 0 ? 0x02 : 0x18) : 0;
    p.tcpWindow[i] = tcp ? 1024 : 0;
  });
  return p;
}

/** A config that trains in seconds: tiny networks, a handful of iterations. */
export function tinyConfig(dataset: 'pcap' | 'netflow', over: { nChunks?: number; iterations?: number; checkpointEvery?: number; maxFlowLen?: number } = {}): Record<string, unknown> {
  return {
    preset: dataset,
    global: { seed: 0, dataset },
    preprocess: { nChunks: over.nChunks ?? 2, maxFlowLen: over.maxFlowLen ?? 10, word2vec: { maxSentences: 5000, epochs: 1 } },
    model: {
      iterations: over.iterations ?? 6,
      checkpointEvery: over.checkpointEvery ?? 3,
      sampleLen: 5,
      batchSize: 16,
      attrGenUnits: 16,
      attrGenLayers: 1,
      lstmUnits: 8,
      discUnits: 16,
      discLayers: 1,
      attrDiscUnits: 16,
      attrDiscLayers: 1,
      dRounds: 1,
    },
  };
}

export const HAVE_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

/** tshark's complaints about a pcap (malformed packets, bad checksums, error-level expert info); [] when clean. */
export function tsharkProblems(file: string): string[] {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-z', 'expert', '-q'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const out: string[] = [];
  if (r.status !== 0) out.push(`tshark exited ${r.status}: ${r.stderr}`);
  if (/Errors \(\d+\)/.test(r.stdout)) out.push(`error-level expert info:\n${r.stdout}`);
  if (/Malformed|Bad checksum/i.test(r.stdout)) out.push(`malformed / bad checksum:\n${r.stdout}`);
  return out;
}
