// Expands an experiment into its trials: grid points (first axis slowest) x random samples x
// seeds (fastest), each with resolved options, an argument vector and an id.
//
// The id is a SHA-256 over the canonical JSON (sorted keys) of the resolved trial, the code
// version and the backend version, so changing the code or the PyTorch install starts new
// trials instead of mixing results.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT } from '../bridge/backend.ts';
import { UsageError } from '../cli/errors.ts';
import { mulberry32 } from '../data/crops.ts';
import type { Distribution, Experiment, OptionValue, Scalar, StepTemplate } from './experiment.ts';
import type { Versions } from './versions.ts';

/** Placeholder replaced by the trial folder only at launch, so it does not enter the id. */
export const TRIAL_DIR_VARIABLE = 'trial_dir';

export interface PlannedStep {
  name: string;
  /** The program and arguments, with `${trial_dir}` still unexpanded. */
  argv: string[];
  options: Record<string, OptionValue>;
}

export interface PlannedTrial {
  id: string;
  index: number;
  /** Parameter name to value, in axis order, `seed` last. */
  params: Record<string, Scalar>;
  seed: number | null;
  steps: PlannedStep[];
  /** True when the metrics document is keyed by step name (the file used `steps`). */
  multiStep: boolean;
  env: Record<string, string>;
  inputs: string[];
  timeoutS: number;
}

/** Orders strings by UTF-16 code units, independent of the locale. */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Sorted-keys JSON, the form that is hashed into trial ids. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => compareCodeUnits(a, b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Replaces `${name}` with variables; `$$` is a literal `$`; `${trial_dir}` is kept. */
export function expandTemplate(text: string, vars: Record<string, Scalar>, where: string): string {
  return text.replace(/\$\$|\$\{([A-Za-z0-9_.-]+)\}/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    if (name === TRIAL_DIR_VARIABLE) return match;
    if (!(name in vars)) throw new UsageError(`${where}: unknown variable \${${name}}; defined: ${Object.keys(vars).sort().join(', ') || 'none'}`);
    return String(vars[name]);
  });
}

function expandValue(value: OptionValue, vars: Record<string, Scalar>, where: string): OptionValue {
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? expandTemplate(item, vars, where) : item));
  return typeof value === 'string' ? expandTemplate(value, vars, where) : value;
}

/** Turns options into `--key value` arguments: true is `--key`, false `--no-key`, lists repeat. */
export function optionsToArgs(options: Record<string, OptionValue>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === null) continue;
    if (value === true) args.push(`--${key}`);
    else if (value === false) args.push(`--no-${key}`);
    else if (Array.isArray(value)) for (const item of value) args.push(`--${key}`, String(item));
    else args.push(`--${key}`, String(value));
  }
  return args;
}

/** A point of the search space: config key to value, plus the values shown as parameters. */
interface Point {
  settings: Record<string, OptionValue>;
  params: Record<string, Scalar>;
}

function gridPoints(experiment: Experiment): Point[] {
  let points: Point[] = [{ settings: {}, params: {} }];
  for (const axis of experiment.grid) {
    const next: Point[] = [];
    for (const point of points) {
      if (axis.kind === 'values') {
        for (const value of axis.values) {
          next.push({ settings: { ...point.settings, [axis.key]: value }, params: { ...point.params, [axis.name]: Array.isArray(value) ? value.join(' ') : value } });
        }
      } else {
        for (const { label, set } of axis.cases) next.push({ settings: { ...point.settings, ...set }, params: { ...point.params, [axis.name]: label } });
      }
    }
    points = next;
  }
  return points;
}

function sample(distribution: Distribution, random: () => number): OptionValue {
  if (distribution.kind === 'choice') return distribution.values[Math.floor(random() * distribution.values.length)]!;
  if (distribution.kind === 'int') return distribution.low + Math.floor(random() * (distribution.high - distribution.low + 1));
  if (distribution.kind === 'uniform') return distribution.low + random() * (distribution.high - distribution.low);
  const [low, high] = [Math.log(distribution.low), Math.log(distribution.high)];
  return Math.exp(low + random() * (high - low));
}

/** Random samples are drawn once (seeded) and combined with every grid point. */
function randomPoints(experiment: Experiment): Point[] {
  const spec = experiment.random;
  if (!spec) return [{ settings: {}, params: {} }];
  const random = mulberry32(spec.seed);
  return Array.from({ length: spec.count }, () => {
    const point: Point = { settings: {}, params: {} };
    for (const param of spec.params) {
      const value = sample(param.distribution, random);
      point.settings[param.key] = value;
      point.params[param.name] = Array.isArray(value) ? value.join(' ') : value;
    }
    return point;
  });
}

/** Builds the program and arguments: `gpstoken <command> ... --json`, or the `exec` program. */
function buildArgv(step: StepTemplate, args: string[], options: Record<string, OptionValue>, vars: Record<string, Scalar>, where: string): string[] {
  if (step.exec) return [...step.exec.map((item) => expandTemplate(item, vars, `${where}.exec`)), ...args, ...optionsToArgs(options)];
  const command = step.command!.split(/\s+/).filter(Boolean);
  return [process.execPath, path.join(REPO_ROOT, 'bin', 'gpstoken.js'), ...command, ...args, ...optionsToArgs(options), '--json'];
}

/** Splits a settable key into its scope and name: `steps.eval.options.x` is (`eval`, `x`). */
function settingTarget(key: string, experiment: Experiment): { scope: 'vars' | 'env' | 'step'; step?: string; name: string } {
  if (key.startsWith('vars.')) return { scope: 'vars', name: key.slice(5) };
  if (key.startsWith('env.')) return { scope: 'env', name: key.slice(4) };
  if (key.startsWith('options.')) return { scope: 'step', step: experiment.trial.steps[0]!.name, name: key.slice(8) };
  const match = /^steps\.([^.]+)\.options\.(.+)$/.exec(key)!;
  return { scope: 'step', step: match[1]!, name: match[2]! };
}

function resolveTrial(experiment: Experiment, point: Point, seed: number | null, index: number, overrides: Record<string, Scalar>, versions: Versions): PlannedTrial {
  const vars: Record<string, Scalar> = { ...experiment.vars, ...overrides };
  const stepOptions = new Map(experiment.trial.steps.map((step) => [step.name, { ...step.options } as Record<string, OptionValue>]));
  const env: Record<string, string> = { ...experiment.trial.env };
  for (const [key, value] of Object.entries(point.settings)) {
    const target = settingTarget(key, experiment);
    if (target.scope === 'vars') vars[target.name] = Array.isArray(value) ? value.join(' ') : value;
    else if (target.scope === 'env') env[target.name] = String(value);
    else stepOptions.get(target.step!)![target.name] = value;
  }
  if (seed !== null) {
    vars.seed = seed;
    if (experiment.trial.seedOption) for (const options of stepOptions.values()) options[experiment.trial.seedOption] = seed;
  }
  for (const [key, value] of Object.entries(env)) env[key] = expandTemplate(value, vars, `trial.env.${key}`);
  const steps = experiment.trial.steps.map((step) => {
    const where = experiment.trial.multiStep ? `trial.steps.${step.name}` : 'trial';
    const options = stepOptions.get(step.name)!;
    for (const [key, value] of Object.entries(options)) options[key] = expandValue(value, vars, `${where}.options.${key}`);
    const args = step.args.map((arg) => expandTemplate(arg, vars, `${where}.args`));
    return { name: step.name, argv: buildArgv(step, args, options, vars, where), options, identity: { command: step.command ?? step.exec, args, options } };
  });
  const inputs = experiment.inputs.map((input) => expandTemplate(input, vars, 'inputs'));

  const identity = { steps: steps.map((step) => step.identity), env, code: versions.code, backend: versions.backend };
  const id = createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 16);
  const params = seed === null ? point.params : { ...point.params, seed };
  return {
    id,
    index,
    params,
    seed,
    steps: steps.map(({ name, argv, options }) => ({ name, argv, options })),
    multiStep: experiment.trial.multiStep,
    env,
    inputs,
    timeoutS: experiment.trial.timeoutS,
  };
}

/** Expands the experiment into its ordered trials; `overrides` are `--var` values. */
export function planTrials(experiment: Experiment, overrides: Record<string, Scalar>, versions: Versions): PlannedTrial[] {
  for (const name of Object.keys(overrides)) {
    if (!(name in experiment.vars)) {
      throw new UsageError(`--var ${name}: ${experiment.file} defines no variable "${name}"; defined: ${Object.keys(experiment.vars).join(', ') || 'none'}`);
    }
  }
  const trials: PlannedTrial[] = [];
  const seeds = experiment.seeds ?? [null];
  for (const gridPoint of gridPoints(experiment)) {
    for (const randomPoint of randomPoints(experiment)) {
      const point = { settings: { ...gridPoint.settings, ...randomPoint.settings }, params: { ...gridPoint.params, ...randomPoint.params } };
      for (const seed of seeds) trials.push(resolveTrial(experiment, point, seed, trials.length, overrides, versions));
    }
  }
  const ids = new Set(trials.map((trial) => trial.id));
  if (ids.size !== trials.length) {
    throw new UsageError(`${experiment.file}: two trials resolve to the same command (an axis changes nothing that reaches the trial?); check that every axis key is used`);
  }
  return trials;
}

/** Parses `--shard I/N`. */
export function parseShard(text: string | undefined): { index: number; count: number } {
  if (text === undefined) return { index: 0, count: 1 };
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new UsageError(`--shard expects I/N with 0 <= I < N (for example 0/4), got "${text}"`);
  return { index, count };
}
