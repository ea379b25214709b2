// Ctrl-C and SIGTERM for long commands: the first signal aborts the command's AbortSignal (executors cancel the run's
// jobs and the command fails with InterruptedError → exit 130); a second one exits 130 at once.
import { InterruptedError } from '../errors.js';

/**
 * Run `fn` with an AbortSignal that SIGINT/SIGTERM abort; the handlers are removed when it settles. A signal turns
 * even a success into InterruptedError, so an interrupted command always exits 130.
 */
export async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>, note: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<T> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      note(`netshare: ${sig} again: exiting now`);
      process.exit(130);
    }
    note(`netshare: ${sig}: cancelling the run's jobs (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to exit at once)`);
    ac.abort(new InterruptedError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await fn(ac.signal);
    if (ac.signal.aborted) throw ac.signal.reason as InterruptedError;
    return r;
  } catch (err) {
    if (ac.signal.aborted) throw ac.signal.reason as InterruptedError;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Resolves when `signal` aborts (Ctrl-C under interruptible): what a serving command waits on before it closes. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
