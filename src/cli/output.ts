// Shared output helpers for command handlers: the --json summary, human lines, and a progress reporter.
import cliProgress from 'cli-progress';
import { keepInfinity } from '../eval/report.js';

export interface GlobalArgs {
  json?: boolean;
  verbose?: boolean;
}

/** Print the single machine-readable summary for --json (always one line, always `ok` first). */
export function printJson(summary: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ok: true, ...summary }, keepInfinity)}\n`);
}

/** Human-readable line on stderr when --json is on (stdout stays clean for the JSON), else on stdout. */
export function say(args: GlobalArgs, line: string): void {
  (args.json ? process.stderr : process.stdout).write(`${line}\n`);
}

export interface Progress {
  /** Report `done` out of `total` (total may be unknown: 0), with optional short payload text. */
  update(done: number, total: number, info?: string): void;
  stop(): void;
}

/**
 * A progress bar on a TTY (stderr), plain periodic lines otherwise (every `intervalMs`), nothing with --json
 * unless stderr is a TTY.
 */
export function progress(label: string, args: GlobalArgs, intervalMs = 5000, opts: { percentOnly?: boolean } = {}): Progress {
  const tty = Boolean(process.stderr.isTTY);
  if (tty) {
    const counts = opts.percentOnly ? '' : ' | {value}/{total}';
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}%${counts} | {info}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, info = '') {
        if (!started) {
          bar.start(Math.max(total, 1), done, { info });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(done, { info });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(done, total, info = '') {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      const pct = total > 0 ? `${((100 * done) / total).toFixed(1)}%` : '';
      if (opts.percentOnly) process.stderr.write(`${label}: ${pct} ${info}\n`);
      else process.stderr.write(`${label}: ${done}${total > 0 ? `/${total}` : ''}${pct ? ` (${pct})` : ''} ${info}\n`);
    },
    stop() {},
  };
}
