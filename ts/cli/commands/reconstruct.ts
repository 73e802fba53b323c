// TODO: replace this placeholder with the real `gpstoken reconstruct` command.
import { plannedCommand } from './stub.ts';

export const reconstructCommand = plannedCommand('reconstruct', '(not implemented yet)');
