#!/usr/bin/env node
// The `netshare` executable: runs main() with the process arguments and sets the exit code.
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

const code = await main(hideBin(process.argv));
process.exitCode = code;
