// Global setup: under CI=true every test oracle (../shared data, tshark, redis-server, nfdump/nfpcapd, Chromium) must be present. Tests skip
// politely when one is missing on a developer's machine, but in CI a skipped oracle would pass unchecked work.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const shared = join(root, '..', 'shared', 'data');

/** Every file and program some test skips without. */
export function missingOracles(): string[] {
  const files = [
    'netflow/ugr16-2016-04-11.csv.gz',
    'netflow/ugr16-netshare-1k.csv',
    'pcap/caida-2018-10k.pcapng',
    'pcap/caida-2018-1k.pcapng',
    'pcap/enterprise-lan-2012-1h.pcap',
    'vectors/expected.json',
  ].map((f) => join(shared, f));
  const missing = files.filter((f) => !existsSync(f));
  if (spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('tshark (apt-get install tshark)');
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('redis-server (apt-get install redis-server)');
  // nfdump reads nfcapd files; nfpcapd (same package) makes them from the shared pcaps, the flow-aggregation oracle
  if (spawnSync('nfdump', ['-V'], { stdio: 'ignore' }).status !== 0) missing.push('nfdump (apt-get install nfdump)');
  if (!existsSync('/usr/bin/nfpcapd')) missing.push('/usr/bin/nfpcapd (apt-get install nfdump)');
  if (!existsSync('/usr/bin/chromium')) missing.push('/usr/bin/chromium (apt-get install chromium)');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'bin.js'))) missing.push('dist/ (npm run build:ts)');
  if (!existsSync(join(root, 'build', 'Release', 'netshare_native.node'))) missing.push('the native addon (npm run build:native)');
  return missing;
}

export default function setup(): void {
  if (process.env.CI !== 'true') return;
  const missing = missingOracles();
  if (missing.length > 0) throw new Error(`CI=true but test oracles are missing, so tests that need them would skip: ${missing.join(', ')}`);
}
