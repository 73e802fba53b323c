// Every `gpstoken` command, in the order `--help` lists them.
import type { CommandModule } from 'yargs';
import { dataCommand } from './data.ts';
import { demoCommand } from './demo.ts';
import { doctorCommand } from './doctor.ts';
import { evalCommand } from './eval.ts';
import { generateCommand } from './generate.ts';
import { partitionCommand } from './partition.ts';
import { reconstructCommand } from './reconstruct.ts';
import { sweepCommand } from './sweep.ts';
import { trainCommand } from './train.ts';
import { trainGeneratorCommand } from './train-generator.ts';
import { trainLayoutCommand } from './train-layout.ts';

export const COMMANDS: CommandModule<any, any>[] = [
  partitionCommand,
  reconstructCommand,
  evalCommand,
  dataCommand,
  trainCommand,
  generateCommand,
  trainGeneratorCommand,
  trainLayoutCommand,
  sweepCommand,
  demoCommand,
  doctorCommand,
];
