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

/** Formats an error and its `cause` chain, one line per level. */
export function describeError(error: unknown, withStack = false): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth += 1) {
    if (current instanceof Error) {
      const text = withStack && current.stack ? current.stack : `${current.name}: ${current.message}`;
      lines.push(depth === 0 ? text : `caused by: ${text}`);
      const traceback = (current as { traceback?: unknown }).traceback;
      if (withStack && typeof traceback === 'string' && traceback) lines.push(traceback.trimEnd());
      current = current.cause;
    } else {
      lines.push(depth === 0 ? String(current) : `caused by: ${String(current)}`);
      current = undefined;
    }
  }
  return lines.join('\n');
}
