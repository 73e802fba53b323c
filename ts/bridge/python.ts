// Discovery of the Python interpreter that runs the PyTorch backend.
//
// Order: GPSTOKEN_PYTHON when set (an error if it cannot import torch), then the
// `python3` first on PATH, then /usr/bin/python3 (Debian's python3-torch is importable
// only from there). Each candidate is probed with a plain subprocess, because pythonia
// crashes Node with an uncaught error when it is given a broken interpreter.
import { execa } from 'execa';

export interface PythonInfo {
  executable: string;
  version: string;
  torch: string;
  cuda: boolean;
  device: string;
  numpy: string;
}

const PROBE = [
  'import json, sys',
  'import numpy, torch',
  'cuda = bool(torch.cuda.is_available())',
  'device = torch.cuda.get_device_name(0) if cuda else "cpu"',
  'print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0],',
  '  "torch": torch.__version__, "cuda": cuda, "device": device, "numpy": numpy.__version__}))',
].join('\n');

export class PythonNotFoundError extends Error {
  override name = 'PythonNotFoundError';
}

let cached: PythonInfo | undefined;

async function probe(executable: string): Promise<PythonInfo | string> {
  try {
    const result = await execa(executable, ['-c', PROBE], { timeout: 120_000, reject: false });
    if (result.exitCode === 0) {
      return JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as PythonInfo;
    }
    const lastLine = result.stderr.trim().split('\n').pop() ?? `exit code ${result.exitCode}`;
    return lastLine;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Returns the interpreter candidates in the order they are tried. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.GPSTOKEN_PYTHON) return [env.GPSTOKEN_PYTHON];
  return ['python3', '/usr/bin/python3'];
}

/** Finds the first interpreter that imports torch and numpy; the result is cached. */
export async function findPython(env: NodeJS.ProcessEnv = process.env): Promise<PythonInfo> {
  if (cached && env === process.env) return cached;
  const failures: string[] = [];
  for (const candidate of pythonCandidates(env)) {
    const info = await probe(candidate);
    if (typeof info !== 'string') {
      if (env === process.env) cached = info;
      return info;
    }
    failures.push(`  ${candidate}: ${info}`);
  }
  const hint = env.GPSTOKEN_PYTHON
    ? 'GPSTOKEN_PYTHON must name an interpreter that can `import torch, numpy`.'
    : 'Install PyTorch (on Debian: `make setup`, or `apt-get install python3-torch`), or set GPSTOKEN_PYTHON to an interpreter that has it.';
  throw new PythonNotFoundError(`No Python interpreter with torch and numpy was found.\n${failures.join('\n')}\n${hint}`);
}
