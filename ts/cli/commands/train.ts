// TODO: replace this placeholder with the real `gpstoken train` command.
import { plannedCommand } from './stub.ts';

export const trainCommand = plannedCommand('train', '(not implemented yet)');
