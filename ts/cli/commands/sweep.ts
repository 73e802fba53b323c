// TODO: replace this placeholder with the real `gpstoken sweep` command.
import { plannedCommand } from './stub.ts';

export const sweepCommand = plannedCommand('sweep', '(not implemented yet)');
