// TODO: replace this placeholder with the real `gpstoken data` command.
import { plannedCommand } from './stub.ts';

export const dataCommand = plannedCommand('data', '(not implemented yet)');
