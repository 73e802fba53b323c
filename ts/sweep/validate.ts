// Checks every trial's programs before a sweep runs them (and in --dry-run): a misspelled
// `gpstoken` command or flag would otherwise fail every trial, each with exit code 2.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../bridge/backend.ts';
import { UsageError } from '../cli/errors.ts';
import { checkArguments } from '../cli/main.ts';
import type { PlannedTrial } from './plan.ts';

export interface StepProblem {
  trial: PlannedTrial;
  step: string;
  message: string;
}

const GPSTOKEN_ENTRY = path.join(REPO_ROOT, 'bin', 'gpstoken.js');

/** Returns true when `program` is an executable file, given as a path or found on PATH. */
async function isExecutable(program: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const candidates = program.includes('/')
    ? [path.resolve(REPO_ROOT, program)]
    : (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) return true;
  }
  return false;
}

/**
 * Returns the problems of the trials' steps: `gpstoken` steps are parsed by the CLI's own
 * yargs definitions (unknown command or flag, missing required option, invalid choice), and
 * `exec` steps must name an executable program. Identical argument vectors are checked once.
 */
export async function findStepProblems(trials: readonly PlannedTrial[], env: NodeJS.ProcessEnv = process.env): Promise<StepProblem[]> {
  const problems: StepProblem[] = [];
  const checked = new Map<string, string | undefined>();
  for (const trial of trials) {
    for (const step of trial.steps) {
      const key = JSON.stringify(step.argv);
      if (!checked.has(key)) checked.set(key, await checkStep(step.argv, env));
      const message = checked.get(key);
      if (message !== undefined) problems.push({ trial, step: step.name, message });
    }
  }
  return problems;
}

async function checkStep(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (argv[0] === process.execPath && argv[1] === GPSTOKEN_ENTRY) {
    const message = await checkArguments(argv.slice(2));
    return message === undefined ? undefined : `gpstoken ${argv[2] ?? ''}: ${message.replace(/\n/g, ' ')}`;
  }
  const program = argv[0] ?? '';
  return (await isExecutable(program, env)) ? undefined : `program "${program}" not found or not executable (exec steps run from ${REPO_ROOT})`;
}

/** Raises a UsageError listing the first problems, so no trial starts with a command that cannot run. */
export function rejectStepProblems(problems: readonly StepProblem[], file: string): void {
  if (problems.length === 0) return;
  const listedLines = problems.slice(0, 5).map((problem) => `  [${problem.trial.index}] ${problem.trial.id} step ${problem.step}: ${problem.message}`);
  const more = problems.length > listedLines.length ? [`  ... and ${problems.length - listedLines.length} more`] : [];
  const trials = new Set(problems.map((problem) => problem.trial.id)).size;
  throw new UsageError(
    [`${file}: ${trials === 1 ? '1 trial has' : `${trials} trials have`} a command that cannot run; fix the trial section:`, ...listedLines, ...more].join('\n'),
  );
}
