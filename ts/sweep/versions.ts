// Versions recorded with every trial and hashed into its id: the code (git commit and a
// hash of the uncommitted changes to tracked files) and the backend (Python and PyTorch).
import { createHash } from 'node:crypto';
import os from 'node:os';
import { execa } from 'execa';
import { REPO_ROOT } from '../bridge/backend.ts';
import { findPython } from '../bridge/python.ts';

export interface Versions {
  /**
   * `<commit>`, or `<commit>+dirty-<12 hex digits of the sha256 of git diff HEAD>` when tracked
   * files differ from the commit, so two different uncommitted edits give different trial ids;
   * `unknown` outside a git checkout.
   */
  code: string;
  gitCommit: string;
  gitDirty: boolean;
  /** The 12-hex-digit diff hash of `code`, or '' for a clean checkout (absent in older records). */
  gitDiffHash?: string;
  /** `python <version> torch <version>`, or `none` when no interpreter with torch was found. */
  backend: string;
  python: string;
  torch: string;
  node: string;
  host: string;
}

interface CodeVersion {
  commit: string;
  dirty: boolean;
  diffHash: string;
}

/**
 * Reads the git commit of a checkout and hashes `git diff HEAD --binary` (staged and unstaged
 * changes of tracked files). Untracked files do not count, so results and caches written
 * inside the checkout do not change trial ids.
 */
export async function readCodeVersion(cwd: string = REPO_ROOT): Promise<CodeVersion> {
  try {
    const commit = (await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout.trim();
    const diff = (await execa('git', ['diff', 'HEAD', '--binary', '--no-color', '--no-ext-diff'], { cwd, stripFinalNewline: false })).stdout;
    if (diff === '') return { commit, dirty: false, diffHash: '' };
    return { commit, dirty: true, diffHash: createHash('sha256').update(diff).digest('hex').slice(0, 12) };
  } catch {
    return { commit: 'unknown', dirty: false, diffHash: '' };
  }
}

/** Parses GPSTOKEN_CODE_VERSION: `<commit>`, `<commit>+dirty` or `<commit>+dirty-<hash>`. */
function parseCodeOverride(text: string): CodeVersion {
  const match = /^(.*)\+dirty(?:-([0-9a-f]+))?$/.exec(text);
  if (!match) return { commit: text, dirty: false, diffHash: '' };
  return { commit: match[1]!, dirty: true, diffHash: match[2] ?? '' };
}

function formatCode(code: CodeVersion): string {
  if (!code.dirty) return code.commit;
  return code.diffHash ? `${code.commit}+dirty-${code.diffHash}` : `${code.commit}+dirty`;
}

/**
 * Collects the versions. GPSTOKEN_CODE_VERSION (`<commit>[+dirty[-<hash>]]`) and
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
    code: formatCode(code),
    gitCommit: code.commit,
    gitDirty: code.dirty,
    gitDiffHash: code.diffHash,
    backend: python === 'none' ? 'none' : `python ${python} torch ${torch}`,
    python,
    torch,
    node: process.version,
    host: os.hostname(),
  };
}
