// TODO: replace this placeholder with the real `gpstoken generate` command.
import { plannedCommand } from './stub.ts';

export const generateCommand = plannedCommand('generate', '(not implemented yet)');
