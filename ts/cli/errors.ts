// Error types the CLI turns into a plain message and an exit code instead of a stack trace.

/** Bad input from the user (a flag, a file, a config key): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Some items failed while the others were processed: the summary is printed, exit code 1. */
export class PartialFailureError extends Error {
  override name = 'PartialFailureError';
}

/** The user stopped the command (Ctrl-C) after it saved its state: exit code 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/** Message printed for an InterruptedError that carries no text of its own. */
export const DEFAULT_INTERRUPTED_MESSAGE = 'stopped by the user before the command finished';

/**
 * Error classes whose name would tell a user nothing: they are printed as the message alone
 * unless `--verbose` is given. The names of other classes (TypeError, a Python exception type
 * inside a message) stay, because they point at a bug rather than at bad input.
 */
const PLAIN_ERROR_NAMES = new Set(['Error', 'UsageError', 'PartialFailureError', 'InterruptedError', 'JobError', 'BackendCallError', 'BackendTimeoutError', 'ImageDecodeError']);

function headline(error: Error, verbose: boolean): string {
  if (verbose) return error.stack ?? `${error.name}: ${error.message}`;
  return PLAIN_ERROR_NAMES.has(error.name) ? error.message : `${error.name}: ${error.message}`;
}

/**
 * Returns the informative part of a cause's message. A backend error's message is
 * `ENTRY failed: PythonType: TEXT`, and TEXT alone is what a usage error built from it repeats.
 */
function coreMessage(error: Error): string {
  const pythonType = (error as { pythonType?: unknown }).pythonType;
  if (typeof pythonType === 'string' && pythonType) {
    const marker = `${pythonType}: `;
    const at = error.message.indexOf(marker);
    if (at >= 0) return error.message.slice(at + marker.length);
  }
  return error.message;
}

/**
 * Formats an error and its `cause` chain, one line per level. Without `verbose`, the class names
 * of the CLI's own errors are left out and a cause whose text is already part of the lines
 * above is skipped; with it every level is printed with its stack and Python traceback.
 */
export function describeError(error: unknown, verbose = false): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth += 1) {
    if (!(current instanceof Error)) {
      lines.push(depth === 0 ? String(current) : `caused by: ${String(current)}`);
      break;
    }
    const core = coreMessage(current).trim();
    const repeated = depth > 0 && !verbose && (core === '' || lines.some((line) => line.includes(core)));
    if (!repeated) {
      const text = headline(current, verbose);
      lines.push(depth === 0 ? text : `caused by: ${text}`);
      const traceback = (current as { traceback?: unknown }).traceback;
      if (verbose && typeof traceback === 'string' && traceback) lines.push(traceback.trimEnd());
    }
    current = current.cause;
  }
  return lines.join('\n');
}
