// Entry point of the `netshare` CLI: registers the command modules and maps errors to exit codes.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { ConfigError, NetShareError } from '../errors.js';

export async function main(argv: string[]): Promise<number> {
  let verbose = argv.includes('--verbose');
  let json = argv.includes('--json');
  let parser: Argv = yargs(argv)
    .scriptName('netshare')
    .usage('$0 <command> [options]')
    .option('verbose', { type: 'boolean', default: false, describe: 'Print stack traces and debug detail' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one machine-readable JSON summary on stdout' })
    .demandCommand(1, 'Name a command (see --help).')
    .strict()
    .recommendCommands()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilogue(
      'Exit codes: 0 ok, 1 internal error (bug), 2 bad usage/config, 3 bad input file, 4 other failure, 130 interrupted.',
    )
    .fail((msg, err) => {
      if (err) throw err;
      throw new ConfigError(msg ?? 'invalid command line');
    });
  for (const c of commands) parser = parser.command(c as never);
  try {
    const args = await parser.parseAsync();
    verbose = Boolean(args.verbose);
    json = Boolean(args.json);
    return EXIT.OK;
  } catch (err) {
    const code = exitCodeFor(err);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, error: { type: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err), exitCode: code } })}\n`,
      );
    }
    if (err instanceof NetShareError && !verbose && code !== EXIT.INTERNAL) {
      process.stderr.write(`netshare: ${err.name}: ${err.message}\n`);
    } else {
      process.stderr.write(`netshare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return code;
  }
}

