// Global setup: the tests, and every process they start, write their temporary files under one directory of this run
// (TMPDIR, which os.tmpdir() and the child processes read), removed when the run ends. Before, every run of the suite
// left ~90 directories (workdirs, traces, Redis data) in the system's temp folder. NETSHARE_KEEP_TEST_TMP=1 keeps it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'netshare-tests-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    if (process.env.NETSHARE_KEEP_TEST_TMP === '1') console.log(`test temporary files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
}
