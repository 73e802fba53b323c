// TODO: replace this placeholder with the real `gpstoken train-generator` command.
import { plannedCommand } from './stub.ts';

export const trainGeneratorCommand = plannedCommand('train-generator', '(not implemented yet)');
