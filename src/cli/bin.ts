#!/usr/bin/env node
// The `netshare` executable: runs main() with the process arguments and sets the exit code.
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

// `netshare ... | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await main(hideBin(process.argv));
process.exitCode = code;
