// The `gpstoken` command line: global options, command registration and exit codes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { REPO_ROOT, closeBackend } from '../bridge/backend.ts';
import { COMMANDS } from './commands/index.ts';
import { DEFAULT_INTERRUPTED_MESSAGE, InterruptedError, PartialFailureError, UsageError, describeError } from './errors.ts';
import { setQuiet } from './output.ts';

function packageVersion(): string {
  const raw = readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8');
  return (JSON.parse(raw) as { version: string }).version;
}

/** `gpstoken ... | head` closes stdout early: stop without an EPIPE stack trace. */
function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    void closeBackend().finally(() => process.exit(0));
  });
}

/** yargs reports an unknown command only as "Did you mean X?": name the command too. */
function unknownCommandMessage(argv: readonly string[], message: string): string {
  if (!message.startsWith('Did you mean')) return message;
  const command = argv.find((arg) => !arg.startsWith('-'));
  return command === undefined ? message : `Unknown command: ${command}\n${message}`;
}

let interruptionReported = false;
let exitHookInstalled = false;

/**
 * Some paths end the process straight from a signal handler (the Python bridge exits 130 on
 * SIGINT, 143 on SIGTERM): print the same `interrupted:` line as an InterruptedError then.
 */
function reportBareInterruption(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', (code) => {
    if (interruptionReported || (code !== 130 && code !== 143)) return;
    const signal = code === 130 ? 'SIGINT' : 'SIGTERM';
    process.stderr.write(`interrupted: stopped by ${signal} before the command finished\n`);
  });
}

/** Thrown by the validate-only parser once yargs accepted the arguments, before any handler. */
class ArgumentsValid extends Error {
  override name = 'ArgumentsValid';
}

/**
 * Builds the yargs parser. With `validateOnly`, a middleware that runs after yargs'
 * validation stops the parse before any command handler, so `checkArguments` can test an
 * argument vector (sweep trials) without running it or touching global state.
 */
export function buildParser(argv: string[], { validateOnly = false } = {}): Argv {
  let parser = yargs(argv)
    .scriptName('gpstoken')
    .usage('$0 <command> [options]\n\nGaussian parameterized spatially-adaptive tokenization (GPSToken) toolkit.')
    .option('json', { type: 'boolean', default: false, describe: 'Print the result as one JSON document on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Print no progress or log lines on stderr' })
    .option('verbose', { type: 'boolean', default: false, describe: 'Print stack traces and Python tracebacks on errors' })
    .middleware(
      validateOnly
        ? () => {
            throw new ArgumentsValid();
          }
        : (args) => setQuiet(Boolean(args.quiet)),
      false,
    )
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'Name a command; `gpstoken --help` lists them.')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(unknownCommandMessage(argv, message));
    });
  for (const command of COMMANDS) parser = parser.command(command);
  return parser;
}

/**
 * Checks `gpstoken` arguments (command, flags, required options, choices) without running
 * the command; returns the usage error message, or undefined when yargs accepts them.
 */
export async function checkArguments(args: string[]): Promise<string | undefined> {
  try {
    await buildParser(args, { validateOnly: true }).parseAsync();
    return undefined;
  } catch (error) {
    if (error instanceof ArgumentsValid) return undefined;
    if (error instanceof UsageError) return error.message;
    throw error;
  }
}

/** Runs the CLI and returns the exit code: 0 success, 1 failure, 2 bad usage, 130 interrupted. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  exitQuietlyOnClosedPipe();
  reportBareInterruption();
  try {
    await buildParser(argv).parseAsync();
    return 0;
  } catch (error) {
    if (error instanceof InterruptedError) {
      interruptionReported = true;
      const detail = verbose ? describeError(error, true) : error.message || DEFAULT_INTERRUPTED_MESSAGE;
      process.stderr.write(`interrupted: ${detail}\n`);
      return 130;
    }
    process.stderr.write(`error: ${describeError(error, verbose)}\n`);
    // A YAML syntax error (duplicate key, bad indentation) is bad input: exit 2 also where a
    // caller let the parser's error through without naming the file.
    if (error instanceof Error && error.name === 'YAMLParseError') return 2;
    if (error instanceof UsageError) {
      if (!verbose && /Unknown argument|Not enough|Missing required|Invalid values/.test(error.message)) {
        process.stderr.write('Run with --help to see the options.\n');
      }
      return 2;
    }
    if (!(error instanceof PartialFailureError) && !verbose) {
      process.stderr.write('Run with --verbose for the stack trace.\n');
    }
    return 1;
  } finally {
    await closeBackend();
  }
}
