// TODO: replace this placeholder with the real `gpstoken eval` command.
import { plannedCommand } from './stub.ts';

export const evalCommand = plannedCommand('eval', '(not implemented yet)');
