// Versions recorded with every trial and hashed into its id: the code (git commit and
// whether tracked files differ from it) and the backend (Python and PyTorch).
import os from 'node:os';
import { execa } from 'execa';
import { REPO_ROOT } from '../bridge/backend.ts';
import { findPython } from '../bridge/python.ts';

export interface Versions {
  /** `<commit>` or `<commit>+dirty`; `unknown` outside a git checkout. */
  code: string;
  gitCommit: string;
  gitDirty: boolean;
  /** `python <version> torch <version>`, or `none` when no interpreter with torch was found. */
  backend: string;
  python: string;
  torch: string;
  node: string;
  host: string;
}

/**
 * Reads the git commit and dirty flag of the repository. Untracked files do not count as
 * dirty, so results and caches written inside the checkout do not change trial ids.
 */
async function readCodeVersion(): Promise<{ commit: string; dirty: boolean }> {
  try {
    const commit = (await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim();
    const status = (await execa('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT })).stdout.trim();
    return { commit, dirty: status !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

function parseCodeOverride(text: string): { commit: string; dirty: boolean } {
  return text.endsWith('+dirty') ? { commit: text.slice(0, -'+dirty'.length), dirty: true } : { commit: text, dirty: false };
}

/**
 * Collects the versions. GPSTOKEN_CODE_VERSION (`<commit>[+dirty]`) and
 * GPSTOKEN_BACKEND_VERSION (`python <v> torch <v>`) replace the probes, for runs from an
 * exported tree without git or to keep ids stable across an unrelated commit.
 */
export async function collectVersions(env: NodeJS.ProcessEnv = process.env): Promise<Versions> {
  const code = env.GPSTOKEN_CODE_VERSION ? parseCodeOverride(env.GPSTOKEN_CODE_VERSION) : await readCodeVersion();
  let python = 'none';
  let torch = 'none';
  if (env.GPSTOKEN_BACKEND_VERSION) {
    const match = /^python (\S+) torch (\S+)$/.exec(env.GPSTOKEN_BACKEND_VERSION);
    if (match) [python, torch] = [match[1]!, match[2]!];
  } else {
    const info = await findPython(env).catch(() => undefined);
    if (info) [python, torch] = [info.version, info.torch];
  }
  return {
    code: `${code.commit}${code.dirty ? '+dirty' : ''}`,
    gitCommit: code.commit,
    gitDirty: code.dirty,
    backend: python === 'none' ? 'none' : `python ${python} torch ${torch}`,
    python,
    torch,
    node: process.version,
    host: os.hostname(),
  };
}
