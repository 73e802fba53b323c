// Placeholder for a command whose implementation is not written yet.
import type { CommandModule } from 'yargs';

export function plannedCommand(command: string, describe: string): CommandModule {
  return {
    command,
    describe,
    builder: (yargs) => yargs.strict(false),
    handler: () => {
      throw new Error(`\`gpstoken ${command.split(' ')[0]}\` is not implemented in this version`);
    },
  };
}
