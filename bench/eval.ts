// Benchmark of the evaluation on 1M-record pairs (packets and NetFlow): profile, metrics, floor, and the full
// evaluation (downstream + privacy), against a reference op measured in the same run (sorting 1M float64s).
// Run: npx vite-node bench/eval.ts [records]   → table on stdout, JSON in bench/out/eval.json
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { allocFlowTable, allocPacketTable, recordTimes, type FlowTable, type PacketTable, type Table } from '../src/io/table.js';
import { readTrace } from '../src/io/read-trace.js';
import { compareProfiles, profile } from '../src/eval/fidelity.js';
import { splitByFlows, splitByTime, splitTables } from '../src/eval/floor.js';
import { evaluateTables } from '../src/eval/evaluate-tables.js';
import { Rng } from '../src/core/rng.js';
import { takeRows } from '../src/io/rows.js';

const N = Number(process.argv[2] ?? 1_000_000);
const CAIDA = '../shared/data/pcap/caida-2018-10k.pcapng';
const UGR = '../shared/data/netflow/ugr16-netshare-1k.csv';

/** Repeat `t` until `n` rows: copy k has time shifted by k spans and the low address byte XOR'ed with k. */
function tile<T extends Table>(t: T, n: number): T {
  const idx = Int32Array.from({ length: n }, (_, i) => i % t.length);
  const out = takeRows(t, idx);
  const time = recordTimes(out);
  const src = recordTimes(t);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of src) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo + 1;
  for (let i = 0; i < n; i++) {
    const k = Math.floor(i / t.length);
    time[i]! += k * span;
    out.srcIp[i] = (out.srcIp[i]! ^ (k & 0xff)) >>> 0;
    out.dstIp[i] = (out.dstIp[i]! ^ ((k >> 8) & 0xff)) >>> 0;
  }
  return out;
}

function genPackets(n: number, seed: number): PacketTable {
  const g = new Rng(seed, 'bench');
  const r = (): number => g.next();
  const t = allocPacketTable(n);
  let i = 0;
  let time = 1.5e15;
  while (i < n) {
    const size = Math.min(n - i, 1 + Math.floor(-Math.log(1 - r()) * 5));
    const src = Math.floor(r() * 2 ** 20) >>> 0;
    const dst = Math.floor(r() * 2 ** 16) >>> 0;
    const sp = Math.floor(r() * 65536);
    const dp = [80, 443, 53, 22, 8080][Math.floor(r() * 5)]!;
    for (let k = 0; k < size; k++, i++) {
      t.time[i] = time + k * 50 + r() * 10;
      t.srcIp[i] = src;
      t.dstIp[i] = dst;
      t.srcPort[i] = sp;
      t.dstPort[i] = dp;
      t.proto[i] = dp === 53 ? 17 : 6;
      t.pktLen[i] = 40 + Math.floor(r() * 1460);
      t.ttl[i] = 64;
    }
    time += r() * 2;
  }
  return t;
}

function genFlows(n: number, seed: number): FlowTable {
  const g = new Rng(seed, 'bench');
  const r = (): number => g.next();
  const t = allocFlowTable(n);
  t.type = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const j = Math.floor(r() * n * 0.7);
    t.srcIp[i] = (j * 2654435761) >>> 12;
    t.dstIp[i] = (j * 40503) >>> 4;
    t.srcPort[i] = j & 0xffff;
    t.dstPort[i] = [80, 443, 53, 25][j & 3]!;
    t.proto[i] = (j & 3) === 2 ? 17 : 6;
    t.ts[i] = 1.46e15 + i * 1000;
    t.pkt[i] = 1 + Math.floor(-Math.log(1 - r()) * 10);
    t.byt[i] = t.pkt[i]! * (40 + Math.floor(r() * 1400));
    t.td[i] = r() * 5;
    t.type[i] = r() < 0.01 ? 'blacklist' : 'background';
  }
  return t;
}

// Wall seconds, and CPU seconds of this process (the dev machine is shared: CPU time is the steadier number).
const cpu: number[] = [];
function time<T>(f: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const v = f();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1e6);
  return [v, (performance.now() - t0) / 1000];
}
const lastCpu = (): number => cpu[cpu.length - 1]!;

async function tryRead(file: string): Promise<Table | null> {
  if (!existsSync(file)) return null;
  try {
    return (await readTrace(file)).table;
  } catch (err) {
    process.stderr.write(`cannot read ${file} (${(err as Error).message}); using generated data\n`);
    return null;
  }
}

async function pairs(): Promise<{ name: string; source: string; real: Table; syn: Table }[]> {
  const out: { name: string; source: string; real: Table; syn: Table }[] = [];
  const caida = await tryRead(CAIDA);
  const ugr = await tryRead(UGR);
  if (caida) {
    const t = caida;
    const [a, b] = splitTables(t, splitByTime(t));
    out.push({ name: 'packets', source: `${CAIDA} halves tiled to ${N} rows each`, real: tile(a, N), syn: tile(b, N) });
  } else out.push({ name: 'packets', source: 'generated (shared data absent or unreadable)', real: genPackets(N, 1), syn: genPackets(N, 2) });
  if (ugr) {
    const t = ugr;
    const [a, b] = splitTables(t, splitByFlows(t, 1));
    out.push({ name: 'netflow', source: `${UGR} flow halves tiled to ${N} rows each`, real: tile(a, N), syn: tile(b, N) });
  } else out.push({ name: 'netflow', source: 'generated (shared data absent or unreadable)', real: genFlows(N, 1), syn: genFlows(N, 2) });
  return out;
}

const rows: Record<string, number | string>[] = [];
const rand = Float64Array.from({ length: N }, () => Math.random());
const [, sortS] = time(() => rand.sort());
const sortCpu = lastCpu();
for (const p of await pairs()) {
  const [pr, profReal] = time(() => profile(p.real));
  const c1 = lastCpu();
  const [ps, profSyn] = time(() => profile(p.syn));
  const c2 = lastCpu();
  const [, metrics] = time(() => compareProfiles(pr, ps));
  const c3 = lastCpu();
  const [, floor] = time(() => {
    const [a, b] = splitTables(p.real, splitByFlows(p.real, 1));
    return compareProfiles(profile(a), profile(b));
  });
  const c4 = lastCpu();
  const [res, full] = time(() => evaluateTables(p.real, p.syn, { seed: 1 }));
  const c5 = lastCpu();
  rows.push({
    pair: p.name,
    records: `${p.real.length}+${p.syn.length}`,
    'profile real s': profReal,
    'profile syn s': profSyn,
    'compare s': metrics,
    'floor s': floor,
    'metrics total s': profReal + profSyn + metrics + floor,
    'metrics total cpu s': c1 + c2 + c3 + c4,
    'full eval s': full,
    'full eval cpu s': c5,
    'full cpu / sort cpu': c5 / sortCpu,
    source: p.source,
  });
  process.stderr.write(`${p.name}: stage timings ${JSON.stringify(res.result.timings)}\n`);
}
console.log(`reference: native sort of ${N} float64 = ${sortS.toFixed(3)} s wall, ${sortCpu.toFixed(3)} s cpu; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(3)) : v]))));
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/eval.json', `${JSON.stringify({ records: N, referenceSortSeconds: sortS, referenceSortCpuSeconds: sortCpu, rows, date: new Date().toISOString() }, null, 2)}\n`);
