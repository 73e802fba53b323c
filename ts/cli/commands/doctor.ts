// `gpstoken doctor`: what the backend runs on and which optional weight files were found.
import type { CommandModule } from 'yargs';
import { callBackend, withBackend } from '../../bridge/backend.ts';
import { findWeightFiles } from '../../util/weights.ts';
import { log, printJson, printLine } from '../output.ts';

interface PingResult {
  python: string;
  executable: string;
  torch: string;
  numpy: string;
  cuda: boolean;
  device: string;
  threads: number;
}

export const doctorCommand: CommandModule<{ json: boolean }, { json: boolean }> = {
  command: 'doctor',
  describe: 'Check the Python backend and list the optional weight files found',
  handler: async (args) => {
    log('starting the Python backend ...');
    const ping = await withBackend(() => callBackend<PingResult>('bridge:ping'));
    const weights = await findWeightFiles();
    if (args.json) {
      printJson({ backend: ping, weights });
      return;
    }
    printLine(`python       ${ping.executable} (${ping.python})`);
    printLine(`torch        ${ping.torch}, numpy ${ping.numpy}, ${ping.threads} threads`);
    printLine(`device       ${ping.cuda ? `cuda (${ping.device})` : 'cpu'}`);
    for (const weight of weights) {
      const where = weight.path ? `${weight.path}${weight.checksumOk === false ? ' (CHECKSUM MISMATCH)' : ''}` : 'not found';
      printLine(`${weight.name.padEnd(12)} ${where}`);
      if (!weight.path) printLine(`${''.padEnd(12)} put it at ${weight.searched[0]} or set ${weight.envVar}`);
    }
  },
};
