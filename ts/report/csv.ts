// CSV files of a sweep: results.csv (one row per trial) and summary.csv (mean and standard
// deviation over seeds), both with explicit column lists.
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../data/fetch.ts';
import type { Experiment } from '../sweep/experiment.ts';
import { metricColumns, paramColumns, TIMING_COLUMNS, VERSION_COLUMNS, type Cell, type ResultRow, type SummaryRow } from '../sweep/results.ts';

/** Formats a cell: booleans as true/false, non-finite numbers as nan/inf/-inf, null as empty. */
function formatCell(value: Cell | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  return String(value);
}

function toCsv(columns: string[], rows: Record<string, Cell | undefined>[]): string {
  return stringify(
    rows.map((row) => columns.map((column) => formatCell(row[column]))),
    { header: true, columns },
  );
}

/** Metric columns get a `metric.` prefix only when a name collides with another column. */
function metricHeader(name: string, taken: string[]): string {
  return taken.includes(name) ? `metric.${name}` : name;
}

export function resultColumns(experiment: Experiment, rows: ResultRow[]): { params: string[]; metrics: string[]; all: string[] } {
  const params = paramColumns(experiment, rows);
  const fixed = ['trial_id', 'index', 'status', ...params, ...VERSION_COLUMNS, ...TIMING_COLUMNS, 'error'];
  const metrics = metricColumns(experiment, rows).map((name) => metricHeader(name, fixed));
  return { params, metrics, all: ['trial_id', 'index', 'status', ...params, ...metrics, ...VERSION_COLUMNS, ...TIMING_COLUMNS, 'error'] };
}

export function resultsCsv(experiment: Experiment, rows: ResultRow[]): string {
  const { params, all } = resultColumns(experiment, rows);
  const metricNames = metricColumns(experiment, rows);
  const fixed = ['trial_id', 'index', 'status', ...params, ...VERSION_COLUMNS, ...TIMING_COLUMNS, 'error'];
  const records = rows.map((row) => {
    const versions = row.record.config?.versions;
    const outcome = row.record.outcome;
    const record: Record<string, Cell | undefined> = {
      trial_id: row.trialId,
      index: row.index,
      status: row.status,
      git_commit: versions?.gitCommit,
      git_dirty: versions?.gitDirty,
      node: versions?.node,
      python: versions?.python,
      torch: versions?.torch,
      host: versions?.host,
      attempts: outcome?.attempts,
      started_at: outcome?.startedAt,
      finished_at: outcome?.finishedAt,
      duration_s: outcome?.durationS,
      error: outcome?.error,
    };
    for (const name of params) record[name] = row.params[name] ?? null;
    for (const name of metricNames) record[metricHeader(name, fixed)] = row.metrics[name];
    return record;
  });
  return toCsv(all, records);
}

export function summaryCsv(experiment: Experiment, rows: ResultRow[], summary: SummaryRow[]): string {
  const params = paramColumns(experiment, rows).filter((name) => name !== 'seed');
  const metrics = metricColumns(experiment, rows);
  const hasReference = (metric: string) => summary.some((row) => metric in row.reference);
  const metricCells = metrics.flatMap((metric) => [`${metric}_mean`, `${metric}_std`, ...(hasReference(metric) ? [`${metric}_ref`] : [])]);
  const columns = [...params, 'git_commit', 'git_dirty', 'trials', 'done', ...metricCells];
  const records = summary.map((row) => {
    const record: Record<string, Cell | undefined> = { git_commit: row.gitCommit, git_dirty: row.gitDirty, trials: row.trials, done: row.done };
    for (const name of params) record[name] = row.params[name] ?? null;
    for (const metric of metrics) {
      record[`${metric}_mean`] = row.mean[metric];
      record[`${metric}_std`] = row.std[metric];
      record[`${metric}_ref`] = row.reference[metric];
    }
    return record;
  });
  return toCsv(columns, records);
}

/** Writes results.csv and summary.csv into `out`; returns their paths. */
export async function writeSweepCsv(out: string, experiment: Experiment, rows: ResultRow[], summary: SummaryRow[]): Promise<{ results: string; summary: string }> {
  const files = { results: path.join(out, 'results.csv'), summary: path.join(out, 'summary.csv') };
  await writeFileAtomic(files.results, resultsCsv(experiment, rows));
  await writeFileAtomic(files.summary, summaryCsv(experiment, rows, summary));
  return files;
}
