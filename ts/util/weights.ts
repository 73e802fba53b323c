// Optional pretrained weight files: where they are looked for and how they are checked.
//
// Nothing is downloaded. A file is found through its environment variable, then in the
// gpstoken cache folder, then in torch's hub cache. Torch hub file names end in the first
// eight hex digits of the file's sha256, which is checked before use.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WeightSpec {
  /** Short name used in messages and `doctor`. */
  name: string;
  fileName: string;
  envVar: string;
  /** Expected sha256 prefix (hex), or undefined when any file is accepted. */
  sha256Prefix?: string;
  purpose: string;
}

export const WEIGHT_SPECS: WeightSpec[] = [
  {
    name: 'fid',
    fileName: 'pt_inception-2015-12-05-6726825d.pth',
    envVar: 'GPSTOKEN_FID_WEIGHTS',
    sha256Prefix: '6726825d',
    purpose: 'FID Inception-v3 (TensorFlow 2015-12-05 port) for rFID, FID, sFID, IS, precision/recall',
  },
  {
    name: 'lpips-vgg',
    fileName: 'vgg16-397923af.pth',
    envVar: 'GPSTOKEN_VGG16_WEIGHTS',
    sha256Prefix: '397923af',
    purpose: 'torchvision VGG16 ImageNet backbone for LPIPS',
  },
  {
    name: 'lpips-lin',
    fileName: 'vgg.pth',
    envVar: 'GPSTOKEN_LPIPS_WEIGHTS',
    purpose: 'LPIPS v0.1 linear layers for the VGG backbone',
  },
];

export interface WeightLocation {
  name: string;
  envVar: string;
  path: string | undefined;
  checksumOk: boolean | undefined;
  searched: string[];
  purpose: string;
}

/** The gpstoken cache folder ($XDG_CACHE_HOME/gpstoken or ~/.cache/gpstoken). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'gpstoken');
}

export function candidatePaths(spec: WeightSpec, env: NodeJS.ProcessEnv = process.env): string[] {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const paths = [
    path.join(cacheDir(env), 'weights', spec.fileName),
    path.join(env.TORCH_HOME || path.join(base, 'torch'), 'hub', 'checkpoints', spec.fileName),
  ];
  const fromEnv = env[spec.envVar];
  return fromEnv ? [fromEnv, ...paths] : paths;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Locates one weight file and checks its checksum prefix when one is known. */
export async function findWeightFile(spec: WeightSpec, env: NodeJS.ProcessEnv = process.env): Promise<WeightLocation> {
  const searched = candidatePaths(spec, env);
  const found = searched.find((candidate) => existsSync(candidate));
  let checksumOk: boolean | undefined;
  if (found && spec.sha256Prefix) checksumOk = (await sha256File(found)).startsWith(spec.sha256Prefix);
  return { name: spec.name, envVar: spec.envVar, path: found, checksumOk, searched, purpose: spec.purpose };
}

export async function findWeightFiles(env: NodeJS.ProcessEnv = process.env): Promise<WeightLocation[]> {
  return Promise.all(WEIGHT_SPECS.map((spec) => findWeightFile(spec, env)));
}

export function weightSpec(name: string): WeightSpec {
  const spec = WEIGHT_SPECS.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`unknown weight file ${JSON.stringify(name)}; known: ${WEIGHT_SPECS.map((s) => s.name).join(', ')}`);
  return spec;
}

/** A weight file that was found and passed its checksum. */
export interface ResolvedWeight {
  name: string;
  path: string;
  sha256: string;
}

export class WeightFileError extends Error {
  override name = 'WeightFileError';
}

/**
 * Finds one weight file: `explicitPath` (a command-line flag) when given, else the
 * environment variable and the cache folders. Returns undefined when nothing is found
 * (the caller skips the metrics that need it); throws when an explicit path is missing or
 * when a checksum does not match, because other weights must never stand in silently.
 */
export async function resolveWeight(name: string, explicitPath?: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedWeight | undefined> {
  const spec = weightSpec(name);
  let found: string | undefined;
  if (explicitPath) {
    if (!existsSync(explicitPath)) throw new WeightFileError(`${spec.purpose}: ${explicitPath} not found; expected the file ${spec.fileName}`);
    found = explicitPath;
  } else {
    found = candidatePaths(spec, env).find((candidate) => existsSync(candidate));
  }
  if (!found) return undefined;
  found = path.resolve(found);
  const sha256 = await sha256File(found);
  if (spec.sha256Prefix && !sha256.startsWith(spec.sha256Prefix)) {
    throw new WeightFileError(
      `${found}: sha256 ${sha256.slice(0, 16)}... does not start with ${spec.sha256Prefix}, so it is not ${spec.fileName} ` +
        `(${spec.purpose}); replace it with the original file`,
    );
  }
  return { name, path: found, sha256 };
}

/** Describes in one line which file is missing and where to put it. */
export function describeMissingWeight(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const spec = weightSpec(name);
  const [first] = candidatePaths(spec, { ...env, [spec.envVar]: '' });
  return `${spec.fileName} (${spec.purpose}) not found; put it at ${first} or set ${spec.envVar} to its path`;
}
