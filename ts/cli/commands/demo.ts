// TODO: replace this placeholder with the real `gpstoken demo` command.
import { plannedCommand } from './stub.ts';

export const demoCommand = plannedCommand('demo', '(not implemented yet)');
