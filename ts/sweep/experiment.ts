// Experiment files (YAML) for `gpstoken sweep`: a trial template, the axes it varies over,
// seeds, inputs, metrics, reference values and plots. Every level is validated strictly:
// an unknown key is an error naming the key, the file and the allowed keys.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../cli/errors.ts';

export type Scalar = string | number | boolean | null;
export type OptionValue = Scalar | Scalar[];

/** One program of a trial: a `gpstoken` subcommand, or any program (`exec`) that prints JSON. */
export interface StepTemplate {
  name: string;
  command?: string;
  exec?: string[];
  args: string[];
  options: Record<string, OptionValue>;
}

/**
 * The programs of one trial: one step (command/exec at the trial level), or several `steps`
 * run in order, e.g. reconstruct then eval. A step that fails ends the attempt.
 */
export interface TrialTemplate {
  steps: StepTemplate[];
  /** True when the file used `steps`; the metrics document is then keyed by step name. */
  multiStep: boolean;
  env: Record<string, string>;
  /** Seconds before a step is stopped; 0 means no limit. */
  timeoutS: number;
  /** Option of every step that receives the seed (`--seed N` by default); null passes none. */
  seedOption: string | null;
}

/** A plain axis sets one config key to each value; a named axis sets several keys per label. */
export type GridAxis =
  | { kind: 'values'; name: string; key: string; values: OptionValue[] }
  | { kind: 'named'; name: string; cases: { label: string; set: Record<string, OptionValue> }[] };

export type Distribution =
  | { kind: 'choice'; values: OptionValue[] }
  | { kind: 'uniform' | 'loguniform'; low: number; high: number }
  | { kind: 'int'; low: number; high: number };

export interface RandomSpec {
  count: number;
  seed: number;
  params: { key: string; name: string; distribution: Distribution }[];
}

export interface MetricSpec {
  name: string;
  /** Dotted path into the trial's JSON output. */
  path: string;
}

export interface ReferenceRow {
  where: Record<string, Scalar>;
  values: Record<string, number>;
}

export interface PlotSpec {
  x: string;
  y: string;
  group: string[] | undefined;
  logX: boolean;
  title: string | undefined;
}

export interface Experiment {
  file: string;
  name: string;
  description: string;
  vars: Record<string, Scalar>;
  trial: TrialTemplate;
  grid: GridAxis[];
  random: RandomSpec | undefined;
  seeds: number[] | undefined;
  inputs: string[];
  metrics: MetricSpec[] | undefined;
  reference: { source: string; rows: ReferenceRow[] } | undefined;
  plots: PlotSpec[];
}

const TOP_KEYS = ['name', 'description', 'vars', 'trial', 'grid', 'random', 'seeds', 'inputs', 'metrics', 'reference', 'plots'];
const TRIAL_KEYS = ['command', 'exec', 'args', 'options', 'steps', 'env', 'timeout_s', 'seed_option'];
const STEP_KEYS = ['name', 'command', 'exec', 'args', 'options'];
const RANDOM_KEYS = ['count', 'seed', 'params'];
const DISTRIBUTION_KEYS = ['choice', 'uniform', 'loguniform', 'int'];
const REFERENCE_KEYS = ['source', 'rows'];
const REFERENCE_ROW_KEYS = ['where', 'values'];
const PLOT_KEYS = ['x', 'y', 'group', 'log_x', 'title'];

type Raw = Record<string, unknown>;

/** Context for messages: which file and which part of it. */
class Checker {
  constructor(readonly file: string) {}

  fail(where: string, message: string): never {
    throw new UsageError(`${this.file}: ${where}: ${message}`);
  }

  object(value: unknown, where: string, allowed?: string[]): Raw {
    if (value === undefined) this.fail(where, 'missing section; expected a mapping');
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(where, `expected a mapping, found ${describe(value)}`);
    if (allowed) {
      for (const key of Object.keys(value as Raw)) {
        if (!allowed.includes(key)) this.fail(where, `unknown key "${key}"; allowed keys: ${allowed.join(', ')}`);
      }
    }
    return value as Raw;
  }

  string(value: unknown, where: string): string {
    if (typeof value !== 'string' || value === '') this.fail(where, `expected a non-empty string, found ${describe(value)}`);
    return value;
  }

  number(value: unknown, where: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(where, `expected a number, found ${describe(value)}`);
    return value;
  }

  integer(value: unknown, where: string, min: number): number {
    const number = this.number(value, where);
    if (!Number.isInteger(number) || number < min) this.fail(where, `expected an integer >= ${min}, found ${number}`);
    return number;
  }

  list(value: unknown, where: string): unknown[] {
    if (!Array.isArray(value)) this.fail(where, `expected a list, found ${describe(value)}`);
    return value;
  }

  scalar(value: unknown, where: string): Scalar {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as Scalar;
    return this.fail(where, `expected a string, number, boolean or null, found ${describe(value)}`);
  }

  optionValue(value: unknown, where: string): OptionValue {
    if (Array.isArray(value)) return value.map((item, index) => this.scalar(item, `${where}[${index}]`));
    return this.scalar(value, where);
  }

  /** Checks a key that an axis or a random parameter sets. */
  settableKey(key: string, where: string, trial: TrialTemplate): string {
    const prefixes = ['vars.', 'env.', ...(trial.multiStep ? trial.steps.map((step) => `steps.${step.name}.options.`) : ['options.'])];
    if (!prefixes.some((prefix) => key.startsWith(prefix) && key.length > prefix.length)) {
      const optionKey = trial.multiStep ? 'steps.<step>.options.<option>' : 'options.<option>';
      this.fail(where, `"${key}" is not a settable key; use ${optionKey}, vars.<variable> or env.<VARIABLE>`);
    }
    return key;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (the key is missing)';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Column name of a settable key: `options.tokens` and `vars.tokens` become `tokens`,
 * `steps.eval.options.metrics` becomes `eval.metrics`.
 */
export function paramName(key: string): string {
  return key.replace(/^(options|vars)\./, '').replace(/^steps\.([^.]+)\.options\./, '$1.');
}

function parseStep(check: Checker, step: Raw, where: string, defaultName: string | undefined): StepTemplate {
  if ((step.command === undefined) === (step.exec === undefined)) check.fail(where, 'set exactly one of "command" (a gpstoken subcommand) or "exec" (a program and its arguments)');
  const options: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(check.object(step.options ?? {}, `${where}.options`))) options[key] = check.optionValue(value, `${where}.options.${key}`);
  const command = step.command === undefined ? undefined : check.string(step.command, `${where}.command`);
  const name = step.name === undefined ? defaultName ?? command?.split(/\s+/)[0] ?? 'exec' : check.string(step.name, `${where}.name`);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) check.fail(`${where}.name`, `use letters, digits, "_" or "-" only, found "${name}"`);
  return {
    name,
    ...(command === undefined ? {} : { command }),
    ...(step.exec === undefined ? {} : { exec: check.list(step.exec, `${where}.exec`).map((item, index) => String(check.scalar(item, `${where}.exec[${index}]`))) }),
    args: check.list(step.args ?? [], `${where}.args`).map((item, index) => String(check.scalar(item, `${where}.args[${index}]`))),
    options,
  };
}

function parseTrial(check: Checker, raw: unknown): TrialTemplate {
  const trial = check.object(raw, 'trial', TRIAL_KEYS);
  let steps: StepTemplate[];
  if (trial.steps !== undefined) {
    const stray = ['command', 'exec', 'args', 'options'].filter((key) => trial[key] !== undefined);
    if (stray.length > 0) check.fail('trial', `with "steps", put ${stray.join(', ')} inside each step`);
    steps = check.list(trial.steps, 'trial.steps').map((item, index) => parseStep(check, check.object(item, `trial.steps[${index}]`, STEP_KEYS), `trial.steps[${index}]`, undefined));
    if (steps.length === 0) check.fail('trial.steps', 'the list of steps is empty');
    const names = steps.map((step) => step.name);
    if (new Set(names).size !== names.length) check.fail('trial.steps', `step names must be unique, found ${names.join(', ')}; set "name" on each step`);
  } else {
    steps = [parseStep(check, trial, 'trial', undefined)];
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(check.object(trial.env ?? {}, 'trial.env'))) env[key] = String(check.scalar(value, `trial.env.${key}`));
  let seedOption: string | null = 'seed';
  if (trial.seed_option === null) seedOption = null;
  else if (trial.seed_option !== undefined) seedOption = check.string(trial.seed_option, 'trial.seed_option');
  return {
    steps,
    multiStep: trial.steps !== undefined,
    env,
    timeoutS: trial.timeout_s === undefined ? 0 : check.number(trial.timeout_s, 'trial.timeout_s'),
    seedOption,
  };
}

function parseGrid(check: Checker, raw: unknown, trial: TrialTemplate): GridAxis[] {
  const grid = check.object(raw ?? {}, 'grid');
  return Object.entries(grid).map(([name, value]): GridAxis => {
    const where = `grid.${name}`;
    if (Array.isArray(value)) {
      if (value.length === 0) check.fail(where, 'the list of values is empty');
      return { kind: 'values', name: paramName(check.settableKey(name, where, trial)), key: name, values: value.map((item, index) => check.optionValue(item, `${where}[${index}]`)) };
    }
    if (name.includes('.')) check.fail(where, 'a named axis (a mapping of labels) needs a plain name without dots');
    const cases = Object.entries(check.object(value, where)).map(([label, setting]) => {
      const set: Record<string, OptionValue> = {};
      for (const [key, item] of Object.entries(check.object(setting, `${where}.${label}`))) set[check.settableKey(key, `${where}.${label}`, trial)] = check.optionValue(item, `${where}.${label}.${key}`);
      return { label, set };
    });
    if (cases.length === 0) check.fail(where, 'the axis has no labels');
    return { kind: 'named', name, cases };
  });
}

function parseDistribution(check: Checker, raw: unknown, where: string): Distribution {
  const spec = check.object(raw, where, DISTRIBUTION_KEYS);
  const kinds = Object.keys(spec);
  if (kinds.length !== 1) check.fail(where, `set exactly one of ${DISTRIBUTION_KEYS.join(', ')}`);
  const kind = kinds[0]!;
  if (kind === 'choice') {
    const values = check.list(spec.choice, `${where}.choice`).map((item, index) => check.optionValue(item, `${where}.choice[${index}]`));
    if (values.length === 0) check.fail(`${where}.choice`, 'the list of choices is empty');
    return { kind: 'choice', values };
  }
  const bounds = check.list(spec[kind], `${where}.${kind}`);
  if (bounds.length !== 2) check.fail(`${where}.${kind}`, 'expected [low, high]');
  const low = check.number(bounds[0], `${where}.${kind}[0]`);
  const high = check.number(bounds[1], `${where}.${kind}[1]`);
  if (!(low <= high)) check.fail(`${where}.${kind}`, `low ${low} is above high ${high}`);
  if (kind === 'loguniform' && low <= 0) check.fail(`${where}.loguniform`, `bounds must be positive, found ${low}`);
  if (kind === 'int' && (!Number.isInteger(low) || !Number.isInteger(high))) check.fail(`${where}.int`, 'bounds must be integers');
  return kind === 'int' ? { kind, low, high } : { kind: kind as 'uniform' | 'loguniform', low, high };
}

function parseRandom(check: Checker, raw: unknown, trial: TrialTemplate): RandomSpec | undefined {
  if (raw === undefined) return undefined;
  const spec = check.object(raw, 'random', RANDOM_KEYS);
  const params = Object.entries(check.object(spec.params, 'random.params')).map(([key, value]) => ({
    key: check.settableKey(key, `random.params.${key}`, trial),
    name: paramName(key),
    distribution: parseDistribution(check, value, `random.params.${key}`),
  }));
  if (params.length === 0) check.fail('random.params', 'name at least one parameter');
  return { count: check.integer(spec.count, 'random.count', 1), seed: spec.seed === undefined ? 0 : check.integer(spec.seed, 'random.seed', 0), params };
}

function parseSeeds(check: Checker, raw: unknown): number[] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number') return Array.from({ length: check.integer(raw, 'seeds', 1) }, (_, index) => index);
  const seeds = check.list(raw, 'seeds').map((item, index) => check.integer(item, `seeds[${index}]`, 0));
  if (new Set(seeds).size !== seeds.length) check.fail('seeds', `the list repeats a seed: ${seeds.join(', ')}`);
  return seeds;
}

function parseMetrics(check: Checker, raw: unknown): MetricSpec[] | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) return raw.map((item, index) => ({ name: check.string(item, `metrics[${index}]`), path: item as string }));
  return Object.entries(check.object(raw, 'metrics')).map(([name, value]) => ({ name, path: check.string(value, `metrics.${name}`) }));
}

function parseReference(check: Checker, raw: unknown): Experiment['reference'] {
  if (raw === undefined) return undefined;
  const spec = check.object(raw, 'reference', REFERENCE_KEYS);
  const rows = check.list(spec.rows, 'reference.rows').map((item, index) => {
    const where = `reference.rows[${index}]`;
    const row = check.object(item, where, REFERENCE_ROW_KEYS);
    const match: Record<string, Scalar> = {};
    for (const [key, value] of Object.entries(check.object(row.where ?? {}, `${where}.where`))) match[key] = check.scalar(value, `${where}.where.${key}`);
    const values: Record<string, number> = {};
    for (const [key, value] of Object.entries(check.object(row.values, `${where}.values`))) values[key] = check.number(value, `${where}.values.${key}`);
    return { where: match, values };
  });
  return { source: spec.source === undefined ? '' : check.string(spec.source, 'reference.source'), rows };
}

function parsePlots(check: Checker, raw: unknown): PlotSpec[] {
  return check.list(raw ?? [], 'plots').map((item, index) => {
    const where = `plots[${index}]`;
    const plot = check.object(item, where, PLOT_KEYS);
    return {
      x: check.string(plot.x, `${where}.x`),
      y: check.string(plot.y, `${where}.y`),
      group: plot.group === undefined ? undefined : check.list(plot.group, `${where}.group`).map((name, i) => check.string(name, `${where}.group[${i}]`)),
      logX: plot.log_x === undefined ? false : plot.log_x === true,
      title: plot.title === undefined ? undefined : check.string(plot.title, `${where}.title`),
    };
  });
}

/** Parses and validates an experiment document; `file` names it in errors. */
export function parseExperiment(text: string, file: string): Experiment {
  const check = new Checker(file);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${file}: invalid YAML: ${(error as Error).message}`, { cause: error });
  }
  const top = check.object(raw, 'top level', TOP_KEYS);
  const name = check.string(top.name, 'name');
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) check.fail('name', `use letters, digits, ".", "_" or "-" only (it names the output folder), found "${name}"`);
  const vars: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(check.object(top.vars ?? {}, 'vars'))) vars[key] = check.scalar(value, `vars.${key}`);

  const trial = parseTrial(check, top.trial);
  const experiment: Experiment = {
    file,
    name,
    description: top.description === undefined ? '' : check.string(top.description, 'description'),
    vars,
    trial,
    grid: parseGrid(check, top.grid, trial),
    random: parseRandom(check, top.random, trial),
    seeds: parseSeeds(check, top.seeds),
    inputs: check.list(top.inputs ?? [], 'inputs').map((item, index) => check.string(item, `inputs[${index}]`)),
    metrics: parseMetrics(check, top.metrics),
    reference: parseReference(check, top.reference),
    plots: parsePlots(check, top.plots),
  };
  checkParamNames(check, experiment);
  return experiment;
}

/** Parameter names become CSV columns, so two axes may not map to the same name. */
function checkParamNames(check: Checker, experiment: Experiment): void {
  const names = [...experiment.grid.map((axis) => axis.name), ...(experiment.random?.params.map((param) => param.name) ?? [])];
  if (experiment.seeds) names.push('seed');
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) check.fail('grid', `two parameters are both named "${name}" (options.X and vars.X share the column X); rename one`);
    seen.add(name);
  }
  for (const [index, row] of (experiment.reference?.rows ?? []).entries()) {
    for (const key of Object.keys(row.where)) {
      if (!seen.has(key)) check.fail(`reference.rows[${index}].where`, `"${key}" is not a parameter; parameters: ${[...seen].join(', ')}`);
    }
    const metricNames = experiment.metrics?.map((metric) => metric.name);
    for (const key of Object.keys(row.values)) {
      if (metricNames && !metricNames.includes(key)) check.fail(`reference.rows[${index}].values`, `"${key}" is not a metric; metrics: ${metricNames.join(', ')}`);
    }
  }
  for (const plot of experiment.plots) {
    if (!seen.has(plot.x)) check.fail('plots', `x "${plot.x}" is not a parameter; parameters: ${[...seen].join(', ')}`);
    for (const group of plot.group ?? []) if (!seen.has(group)) check.fail('plots', `group "${group}" is not a parameter; parameters: ${[...seen].join(', ')}`);
  }
}

export async function readExperiment(file: string): Promise<Experiment> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the experiment file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseExperiment(text, path.relative(process.cwd(), file) || file);
}
