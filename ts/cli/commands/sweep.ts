// `gpstoken sweep FILE`: run the trials of an experiment file (resumable, parallel, sharded),
// then write results.csv, summary.csv and the plots into the output folder.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { REPO_ROOT } from '../../bridge/backend.ts';
import { writeFileAtomic } from '../../data/fetch.ts';
import { writeSweepCsv } from '../../report/csv.ts';
import { writeSweepPlots } from '../../report/plots.ts';
import { readExperiment, type Experiment, type Scalar } from '../../sweep/experiment.ts';
import { parseShard, planTrials, type PlannedTrial } from '../../sweep/plan.ts';
import { collectRows, paramColumns, summarize, type SummaryRow } from '../../sweep/results.ts';
import { expandTrialDir, missingInputs, runSweep, type SweepEvent } from '../../sweep/run.ts';
import { signalAllTrials } from '../../sweep/runner.ts';
import { readTrial, trialDir } from '../../sweep/trials.ts';
import { findStepProblems, rejectStepProblems } from '../../sweep/validate.ts';
import { collectVersions, type Versions } from '../../sweep/versions.ts';
import { InterruptedError, PartialFailureError, UsageError } from '../errors.ts';
import { log, printJson, printLine, warn } from '../output.ts';

interface SweepArgs {
  file: string;
  dryRun: boolean;
  workers?: number;
  gpus?: string;
  shard?: string;
  retries: number;
  rebuildCsv: boolean;
  out?: string;
  var?: string[];
  json: boolean;
}

/** Reads a `--var` value: numbers and booleans keep their type, so ids match the file's. */
function parseVarValue(text: string): Scalar {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** Parses repeated `--var NAME=VALUE`. */
function parseVars(raw: string[] | undefined): Record<string, Scalar> {
  const vars: Record<string, Scalar> = {};
  for (const item of raw ?? []) {
    const equals = item.indexOf('=');
    if (equals <= 0) throw new UsageError(`--var expects NAME=VALUE, got "${item}"`);
    vars[item.slice(0, equals)] = parseVarValue(item.slice(equals + 1));
  }
  return vars;
}

/** Shows an argument vector the way a user would type it. */
function displayArgv(argv: string[]): string {
  const shown = argv[0] === process.execPath && argv[1] === path.join(REPO_ROOT, 'bin', 'gpstoken.js') ? ['gpstoken', ...argv.slice(2)] : argv;
  return shown.map((arg) => (/^[\w@%+=:,./${}-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function describeParams(params: Record<string, Scalar>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

async function dryRun(experiment: Experiment, trials: PlannedTrial[], out: string, versions: Versions, shard: string, json: boolean): Promise<void> {
  const listed = [];
  for (const trial of trials) {
    const { status } = await readTrial(out, trial.id);
    const dir = trialDir(out, trial.id);
    const commands = trial.steps.map((step) => displayArgv(step.argv.map((arg) => expandTrialDir(arg, dir))));
    listed.push({ index: trial.index, id: trial.id, status, params: trial.params, commands, missing: await missingInputs(trial.inputs) });
  }
  const allMissing = [...new Set(listed.flatMap((trial) => trial.missing))];
  if (json) {
    printJson({ experiment: experiment.name, file: experiment.file, out, shard, versions, trials: listed, missingInputs: allMissing });
    return;
  }
  printLine(`${experiment.name}: ${trials.length} trials (shard ${shard}), output ${out}`);
  printLine(`code ${versions.code}, backend ${versions.backend}`);
  for (const trial of listed) {
    printLine(`[${trial.index}] ${trial.id} ${trial.status.padEnd(11)} ${describeParams(trial.params)}`);
    for (const command of trial.commands) printLine(`    ${command}`);
    if (trial.missing.length > 0) printLine(`    missing: ${trial.missing.join(', ')}`);
  }
  printLine(allMissing.length > 0 ? `missing input files (${allMissing.length}): ${allMissing.join(', ')}` : 'all input files are present');
}

function formatNumber(value: number | undefined | null): string {
  if (value === undefined || value === null) return '-';
  return Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(4)).toString();
}

/** Prints each group's measured mean ± std beside the reference value. */
function printSummary(experiment: Experiment, summary: SummaryRow[]): void {
  for (const row of summary) {
    const metrics = Object.keys(row.mean).map((metric) => {
      const std = row.std[metric];
      const reference = row.reference[metric];
      return `${metric} ${formatNumber(row.mean[metric])}${std === null || std === undefined ? '' : ` ± ${formatNumber(std)}`}${reference === undefined ? '' : ` (ref ${formatNumber(reference)})`}`;
    });
    printLine(`${describeParams(row.params) || experiment.name} [${row.done}/${row.trials} done]: ${metrics.join(', ') || 'no metrics yet'}`);
  }
  if (experiment.reference?.source) printLine(`reference: ${experiment.reference.source}`);
}

/** Rebuilds both CSV files (and, when asked, the plots) from the trial folders. */
async function writeReports(experiment: Experiment, planned: PlannedTrial[], out: string, withPlots: boolean) {
  const rows = await collectRows(experiment, planned, out);
  const summary = summarize(experiment, rows);
  const csv = await writeSweepCsv(out, experiment, rows, summary);
  const plots = withPlots ? await writeSweepPlots(out, experiment, summary, paramColumns(experiment, rows)) : [];
  return { rows, summary, csv, plots };
}

function logEvent(event: SweepEvent): void {
  const label = `[${event.trial.index}] ${event.trial.id} ${describeParams(event.trial.params)}`;
  if (event.type === 'start') log(`${label}: start${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''} on worker ${event.worker}`);
  else if (event.type === 'done') log(`${label}: done in ${event.durationS.toFixed(1)} s`);
  else if (event.type === 'failed') warn(`${label}: failed: ${event.error}${event.willRetry ? '; retrying' : ''}`);
  else if (event.type === 'skipped' && event.reason !== 'already done') warn(`${label}: skipped: ${event.reason}`);
}

/** Aborts on the first SIGINT/SIGTERM; a second SIGINT kills the trials and exits at once. */
function installStopHandlers(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (signal === 'SIGINT') {
        signalAllTrials('SIGKILL');
        process.exit(130);
      }
      return;
    }
    warn(`${signal}: starting no new trials, stopping running ones (SIGTERM to their process groups); press Ctrl-C again to exit at once`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function runSweepCommand(args: SweepArgs): Promise<void> {
  const experiment = await readExperiment(path.resolve(args.file));
  const versions = await collectVersions();
  const allTrials = planTrials(experiment, parseVars(args.var), versions);
  const shard = parseShard(args.shard);
  const trials = allTrials.filter((trial) => trial.index % shard.count === shard.index);
  const out = path.resolve(args.out ?? path.join(REPO_ROOT, 'runs', 'sweeps', experiment.name));
  const shardText = `${shard.index}/${shard.count}`;
  const gpus = args.gpus ? args.gpus.split(',').map((gpu) => gpu.trim()).filter(Boolean) : [];
  const workers = args.workers ?? Math.max(1, gpus.length);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${args.workers}`);
  if (!Number.isInteger(args.retries) || args.retries < 0) throw new UsageError(`--retries must be an integer >= 0, got ${args.retries}`);
  if (!args.rebuildCsv) rejectStepProblems(await findStepProblems(trials), experiment.file);

  if (args.dryRun) return dryRun(experiment, trials, out, versions, shardText, args.json);
  if (args.rebuildCsv) {
    const reports = await writeReports(experiment, allTrials, out, true);
    if (args.json) printJson({ out, csv: reports.csv, plots: reports.plots, summary: reports.summary });
    else {
      printSummary(experiment, reports.summary);
      printLine(`wrote ${reports.csv.results}, ${reports.csv.summary}${reports.plots.length ? ` and ${reports.plots.length} plot files` : ''}`);
    }
    return;
  }

  await mkdir(out, { recursive: true });
  const resolved = { experiment, versions, shard: shardText, vars: parseVars(args.var) };
  await writeFileAtomic(path.join(out, 'sweep.json'), `${JSON.stringify(resolved, null, 2)}\n`);
  log(`${experiment.name}: ${trials.length} trials (shard ${shardText}), ${workers} workers${gpus.length ? ` on GPUs ${gpus.join(',')}` : ''}, output ${out}; code ${versions.code}, backend ${versions.backend}`);

  const controller = new AbortController();
  const removeHandlers = installStopHandlers(controller);
  let csvWrites = Promise.resolve();
  let summary;
  try {
    summary = await runSweep({
      experiment,
      trials,
      out,
      workers,
      gpus,
      retries: args.retries,
      versions,
      signal: controller.signal,
      onEvent: (event) => {
        logEvent(event);
        // Keep the CSV current after every finished trial, one write at a time.
        if (event.type === 'done' || (event.type === 'failed' && !event.willRetry)) {
          csvWrites = csvWrites.then(() => writeReports(experiment, allTrials, out, false).then(() => undefined)).catch((error: Error) => warn(`CSV update failed: ${error.message}`));
        }
      },
    });
  } finally {
    removeHandlers();
  }
  await csvWrites;
  const reports = await writeReports(experiment, allTrials, out, true);
  if (args.json) printJson({ out, run: summary, csv: reports.csv, plots: reports.plots, summary: reports.summary });
  else {
    printSummary(experiment, reports.summary);
    const busy = summary.busy > 0 ? `, ${summary.busy} running elsewhere` : '';
    printLine(`${summary.done} done, ${summary.alreadyDone} already done, ${summary.failed} failed${busy}, ${summary.notRun} not run; wrote ${reports.csv.results} and ${reports.csv.summary}`);
  }
  if (summary.stopped) throw new InterruptedError(`stopped with ${summary.notRun} trials not run; rerun the same command to continue`);
  if (summary.failed > 0) throw new PartialFailureError(`${summary.failed} trials failed (see their log.txt under ${path.join(out, 'trials')}); rerun to retry them`);
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: 'sweep <file>',
  describe: 'Run an experiment file (grid/random search over a command) and write CSV and plots',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', demandOption: true, describe: 'Experiment file (YAML), e.g. experiments/paper-table1.yaml' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'List the trials, their ids, parameters, commands and missing inputs; run nothing' })
      .option('workers', { type: 'number', describe: 'Trials run in parallel [default: 1, or the number of --gpus]' })
      .option('gpus', { type: 'string', describe: 'Comma-separated device ids; worker i gets CUDA_VISIBLE_DEVICES=<id i mod count>' })
      .option('shard', { type: 'string', describe: 'Run only trials whose index mod N equals I, given as I/N' })
      .option('retries', { type: 'number', default: 1, describe: 'Extra attempts for a failed trial within this run' })
      .option('rebuild-csv', { type: 'boolean', default: false, describe: 'Only rebuild results.csv, summary.csv and the plots from the trial folders' })
      .option('out', { type: 'string', describe: 'Output folder [default: runs/sweeps/<experiment name>]' })
      .option('var', { type: 'string', array: true, describe: 'Set an experiment variable, NAME=VALUE (repeatable)' }) as unknown as Argv<SweepArgs>,
  handler: runSweepCommand,
};
