// `netshare info`: versions of the pieces netshare runs on (node, libpcap, onnxruntime), for bug reports.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { environmentInfo } from '../../pipeline/info.js';
import { printJson, type GlobalArgs } from '../output.js';

export const infoCommand: CommandModule<object, GlobalArgs> = {
  command: 'info',
  describe: 'Print versions of node, libpcap and onnxruntime, and the execution providers available',
  builder: (y: Argv) => y as Argv<GlobalArgs>,
  handler: async (args: ArgumentsCamelCase<GlobalArgs>) => {
    const info = await environmentInfo();
    if (args.json) printJson(info as unknown as Record<string, unknown>);
    else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}\n`);
  },
};
