// TODO: replace this placeholder with the real `gpstoken partition` command.
import { plannedCommand } from './stub.ts';

export const partitionCommand = plannedCommand('partition', '(not implemented yet)');
