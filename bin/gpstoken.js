#!/usr/bin/env node
// Entry point of the `gpstoken` command: loads the TypeScript sources through tsx,
// so the toolkit runs from a checkout with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../ts/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
