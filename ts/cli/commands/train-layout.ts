// TODO: replace this placeholder with the real `gpstoken train-layout` command.
import { plannedCommand } from './stub.ts';

export const trainLayoutCommand = plannedCommand('train-layout', '(not implemented yet)');
