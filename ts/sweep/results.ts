// Result rows of a sweep, rebuilt from the trial folders: one row per trial (planned or found
// on disk), and summary rows with the mean and standard deviation over seeds.
import type { Experiment, Scalar } from './experiment.ts';
import type { PlannedTrial } from './plan.ts';
import { listTrialIds, readTrial, type TrialRecord, type TrialStatus } from './trials.ts';

export type Cell = string | number | boolean | null;

export interface ResultRow {
  trialId: string;
  index: number;
  status: TrialStatus;
  params: Record<string, Scalar>;
  metrics: Record<string, Cell>;
  record: TrialRecord;
}

export interface SummaryRow {
  params: Record<string, Scalar>;
  gitCommit: string;
  gitDirty: boolean | null;
  trials: number;
  done: number;
  mean: Record<string, number>;
  std: Record<string, number | null>;
  reference: Record<string, number>;
}

export const VERSION_COLUMNS = ['git_commit', 'git_dirty', 'node', 'python', 'torch', 'host'] as const;
export const TIMING_COLUMNS = ['attempts', 'started_at', 'finished_at', 'duration_s'] as const;

/** Reads a dotted path (`fid.value`) out of a JSON document. */
export function valueAt(document: unknown, dottedPath: string): unknown {
  let current = document;
  for (const part of dottedPath.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Flattens the scalar leaves of a JSON document into dotted keys; lists are left out. */
export function flattenScalars(document: unknown, prefix = '', into: Record<string, Cell> = {}): Record<string, Cell> {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    if (prefix && (document === null || ['string', 'number', 'boolean'].includes(typeof document))) into[prefix] = document as Cell;
    return into;
  }
  for (const [key, value] of Object.entries(document as Record<string, unknown>)) flattenScalars(value, prefix ? `${prefix}.${key}` : key, into);
  return into;
}

function extractMetrics(experiment: Experiment, metrics: unknown): Record<string, Cell> {
  if (metrics === undefined) return {};
  if (!experiment.metrics) return flattenScalars(metrics);
  const values: Record<string, Cell> = {};
  for (const metric of experiment.metrics) {
    const value = valueAt(metrics, metric.path);
    values[metric.name] = value === undefined || (value !== null && typeof value === 'object') ? null : (value as Cell);
  }
  return values;
}

/**
 * Collects one row per planned trial plus one per other trial folder on disk (earlier code
 * versions, other settings), planned ones first in plan order.
 */
export async function collectRows(experiment: Experiment, planned: PlannedTrial[], out: string): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const plannedIds = new Set(planned.map((trial) => trial.id));
  for (const trial of planned) {
    const record = await readTrial(out, trial.id);
    rows.push({ trialId: trial.id, index: trial.index, status: record.status, params: trial.params, metrics: extractMetrics(experiment, record.metrics), record });
  }
  const others: ResultRow[] = [];
  for (const id of await listTrialIds(out)) {
    if (plannedIds.has(id)) continue;
    const record = await readTrial(out, id);
    if (!record.config || record.config.experiment !== experiment.name) continue;
    others.push({ trialId: id, index: record.config.index, status: record.status, params: record.config.params, metrics: extractMetrics(experiment, record.metrics), record });
  }
  others.sort((a, b) => a.index - b.index || a.trialId.localeCompare(b.trialId));
  return [...rows, ...others];
}

/** Parameter columns: the experiment's axes, then any extra names found in older trials. */
export function paramColumns(experiment: Experiment, rows: ResultRow[]): string[] {
  const columns = [...experiment.grid.map((axis) => axis.name), ...(experiment.random?.params.map((param) => param.name) ?? [])];
  if (experiment.seeds) columns.push('seed');
  for (const row of rows) for (const name of Object.keys(row.params)) if (!columns.includes(name)) columns.push(name);
  return columns;
}

export function metricColumns(experiment: Experiment, rows: ResultRow[]): string[] {
  if (experiment.metrics) return experiment.metrics.map((metric) => metric.name);
  return [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))].sort();
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Sample standard deviation (n - 1); null for fewer than two values. */
export function sampleStd(values: number[]): number | null {
  if (values.length < 2) return null;
  const average = mean(values);
  return Math.sqrt(values.reduce((sum, value) => sum + (value - average) ** 2, 0) / (values.length - 1));
}

function referenceFor(experiment: Experiment, params: Record<string, Scalar>): Record<string, number> {
  const row = experiment.reference?.rows.find((candidate) => Object.entries(candidate.where).every(([key, value]) => String(params[key]) === String(value)));
  return row?.values ?? {};
}

/**
 * Groups rows by every parameter except the seed and by code version, so results of
 * different commits are never averaged together. Metrics are averaged over finished trials.
 */
export function summarize(experiment: Experiment, rows: ResultRow[]): SummaryRow[] {
  const names = paramColumns(experiment, rows).filter((name) => name !== 'seed');
  const metrics = metricColumns(experiment, rows);
  const groups = new Map<string, { params: Record<string, Scalar>; gitCommit: string; gitDirty: boolean | null; rows: ResultRow[] }>();
  const paramsOf = (row: ResultRow) => Object.fromEntries(names.map((name) => [name, row.params[name] ?? null]));
  const paramsKey = (params: Record<string, Scalar>) => JSON.stringify(names.map((name) => params[name]));
  // Finished trials first, so unfinished ones join the group of their parameters.
  const ordered = [...rows.filter((row) => row.status === 'done'), ...rows.filter((row) => row.status !== 'done')];
  for (const row of ordered) {
    const params = paramsOf(row);
    const versions = row.status === 'done' ? row.record.config?.versions : undefined;
    let key = JSON.stringify([paramsKey(params), versions?.gitCommit ?? '', versions?.gitDirty ?? null]);
    if (!versions) key = [...groups.keys()].find((candidate) => JSON.parse(candidate)[0] === paramsKey(params)) ?? key;
    if (!groups.has(key)) groups.set(key, { params, gitCommit: versions?.gitCommit ?? '', gitDirty: versions?.gitDirty ?? null, rows: [] });
    groups.get(key)!.rows.push(row);
  }
  const firstIndex = (group: { rows: ResultRow[] }) => Math.min(...group.rows.map((row) => row.index));
  const sorted = [...groups.values()].sort((a, b) => firstIndex(a) - firstIndex(b));
  return sorted.map((group) => {
    const finished = group.rows.filter((row) => row.status === 'done');
    const summary: SummaryRow = { params: group.params, gitCommit: group.gitCommit, gitDirty: group.gitDirty, trials: group.rows.length, done: finished.length, mean: {}, std: {}, reference: referenceFor(experiment, group.params) };
    for (const metric of metrics) {
      const values = finished.map((row) => row.metrics[metric]).filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
      if (values.length === 0) continue;
      summary.mean[metric] = mean(values);
      summary.std[metric] = sampleStd(values);
    }
    return summary;
  });
}
