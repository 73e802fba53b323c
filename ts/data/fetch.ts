// `gpstoken data fetch`: builds the photo pool from pinned Debian packages.
//
// Layout of the output folder:
//   <out>/train/<file>, <out>/test/<file>   verified photos, split by group (see splitOfGroup)
//   <out>/index.tsv                          file, split, group, license, sha256, width, height, source
//   <out>/debs/                              downloaded .deb files (default --debs), kept for reruns
// A file already present with the right sha256 is not fetched again; files are written to a
// temporary name and renamed, so an interrupted run never leaves a half-written photo.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'csv-stringify/sync';
import { REPO_ROOT } from '../bridge/backend.ts';
import { UsageError } from '../cli/errors.ts';
import { extractFromDeb } from './deb.ts';
import { readManifest, type PoolEntry } from './manifest.ts';
import { extractFromRcc } from './rcc.ts';

export const DEFAULT_MANIFEST = path.join(REPO_ROOT, 'experiments', 'data', 'pool.tsv');
export const INDEX_COLUMNS = ['file', 'split', 'group', 'license', 'sha256', 'width', 'height', 'source'] as const;

/** The pool folder: $GPSTOKEN_DATA when set, else `.cache/pool` in the repository. */
export function defaultPoolDir(): string {
  return process.env.GPSTOKEN_DATA ? path.resolve(process.env.GPSTOKEN_DATA) : path.join(REPO_ROOT, '.cache', 'pool');
}

export interface FetchFailure {
  file: string;
  source: string;
  reason: string;
}

export interface FetchSummary {
  out: string;
  total: number;
  /** Files that were already present and verified. */
  skipped: number;
  /** Files extracted and verified in this run. */
  written: number;
  failures: FetchFailure[];
  bytes: number;
  downloadedPackages: string[];
  seconds: number;
}

/** Downloads `pkg=version` into `dir` and returns the .deb path; replaceable in tests. */
export type PackageDownloader = (pkg: string, version: string, dir: string) => Promise<string>;

export interface FetchOptions {
  manifest: string;
  out: string;
  debs: string;
  /** Restrict to these package names (all when empty). */
  packages?: string[];
  download?: PackageDownloader;
  onProgress?: (done: number, total: number, file: string) => void;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sourceOf(entry: PoolEntry): string {
  return `${entry.package}=${entry.version}:${entry.packagePath}${entry.innerPath === undefined ? '' : `::${entry.innerPath}`}`;
}

/** apt and dpkg write an epoch colon as %3a in .deb file names. */
function debNamePrefixes(pkg: string, version: string): string[] {
  return [`${pkg}_${version.replace(/:/g, '%3a')}_`, `${pkg}_${version}_`];
}

/** Finds an existing `<pkg>_<version>_<arch>.deb` in `dir`. */
export async function findDeb(dir: string, pkg: string, version: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const prefixes = debNamePrefixes(pkg, version);
  const match = names.sort().find((name) => name.endsWith('.deb') && prefixes.some((prefix) => name.startsWith(prefix)));
  return match === undefined ? undefined : path.join(dir, match);
}

/**
 * Runs `apt-get download PKG=VERSION` in a fresh temporary folder inside `dir` and moves the
 * finished .deb into `dir`, so an interrupted download is never mistaken for a package.
 */
export const aptGetDownload: PackageDownloader = async (pkg, version, dir) => {
  const scratch = await mkdtemp(path.join(dir, '.download-'));
  try {
    await execa('apt-get', ['download', `${pkg}=${version}`], { cwd: scratch, stdin: 'ignore' });
    const deb = (await readdir(scratch)).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg}=${version} finished but left no .deb file`);
    await rename(path.join(scratch, deb), path.join(dir, deb));
    return path.join(dir, deb);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-2).join(' ') ?? '';
    throw new Error(`apt-get download ${pkg}=${version} failed${stderr ? `: ${stderr}` : ''}; run \`apt-get update\` or put the .deb into the --debs folder`, { cause: error });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
};

/** Writes a file through a temporary name and a rename, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  await writeFile(temporary, data);
  await rename(temporary, file);
}

async function isVerified(file: string, sha256: string): Promise<boolean> {
  try {
    return sha256Hex(await readFile(file)) === sha256;
  } catch {
    return false;
  }
}

function poolFile(out: string, entry: PoolEntry): string {
  return path.join(out, entry.split, entry.fileName);
}

/** Groups entries by `package=version`, keeping manifest order. */
function byPackage(entries: PoolEntry[]): Map<string, PoolEntry[]> {
  const groups = new Map<string, PoolEntry[]>();
  for (const entry of entries) {
    const key = `${entry.package}=${entry.version}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return groups;
}

/** Reads the bytes of each entry of one package out of its .deb (and out of .rcc bundles). */
async function extractEntries(deb: string, entries: PoolEntry[]): Promise<Map<PoolEntry, Buffer | string>> {
  const results = new Map<PoolEntry, Buffer | string>();
  const packagePaths = [...new Set(entries.map((entry) => entry.packagePath))];
  const { files, missing } = await extractFromDeb(deb, packagePaths);
  for (const entry of entries) {
    const data = files.get(entry.packagePath);
    if (!data) {
      results.set(entry, `${entry.packagePath} is not in ${path.basename(deb)}`);
      continue;
    }
    if (entry.innerPath === undefined) results.set(entry, data);
  }
  for (const bundlePath of packagePaths.filter((p) => !missing.includes(p))) {
    const inner = entries.filter((entry) => entry.packagePath === bundlePath && entry.innerPath !== undefined);
    if (inner.length === 0) continue;
    try {
      const extracted = await extractFromRcc(files.get(bundlePath)!, inner.map((entry) => entry.innerPath!), bundlePath);
      for (const entry of inner) results.set(entry, extracted.files.get(entry.innerPath!) ?? `${entry.innerPath} is not in the bundle ${bundlePath}`);
    } catch (error) {
      for (const entry of inner) results.set(entry, (error as Error).message);
    }
  }
  return results;
}

/** Rejects `--package` names that no manifest entry has, which would otherwise fetch nothing. */
export function checkPackagesListed(packages: readonly string[], entries: readonly PoolEntry[], manifest: string): void {
  const listed = [...new Set(entries.map((entry) => entry.package))].sort();
  const unknown = packages.filter((name) => !listed.includes(name));
  if (unknown.length === 0) return;
  const names = unknown.map((name) => JSON.stringify(name)).join(', ');
  throw new UsageError(
    `--package ${names}: not in the manifest ${manifest}; packages listed there: ${listed.join(', ')}`,
  );
}

/** Fetches, extracts, verifies and places every manifest file; never throws for one bad file. */
export async function fetchPool(options: FetchOptions): Promise<FetchSummary> {
  const started = Date.now();
  const download = options.download ?? aptGetDownload;
  const all = await readManifest(options.manifest);
  checkPackagesListed(options.packages ?? [], all, options.manifest);
  const entries = options.packages?.length ? all.filter((entry) => options.packages!.includes(entry.package)) : all;
  await Promise.all([mkdir(path.join(options.out, 'train'), { recursive: true }), mkdir(path.join(options.out, 'test'), { recursive: true }), mkdir(options.debs, { recursive: true })]);

  const summary: FetchSummary = { out: options.out, total: entries.length, skipped: 0, written: 0, failures: [], bytes: 0, downloadedPackages: [], seconds: 0 };
  let done = 0;
  const finish = (entry: PoolEntry) => options.onProgress?.((done += 1), entries.length, entry.fileName);

  const pending: PoolEntry[] = [];
  for (const entry of entries) {
    if (await isVerified(poolFile(options.out, entry), entry.sha256)) {
      summary.skipped += 1;
      finish(entry);
    } else pending.push(entry);
  }

  for (const [key, group] of byPackage(pending)) {
    const [pkg, version] = [group[0]!.package, group[0]!.version];
    let results: Map<PoolEntry, Buffer | string>;
    try {
      let deb = await findDeb(options.debs, pkg, version);
      if (!deb) {
        deb = await download(pkg, version, options.debs);
        summary.downloadedPackages.push(key);
      }
      results = await extractEntries(deb, group);
    } catch (error) {
      results = new Map(group.map((entry) => [entry, (error as Error).message]));
    }
    for (const entry of group) {
      const result = results.get(entry)!;
      const failure = typeof result === 'string' ? result : await placeVerified(options.out, entry, result);
      if (failure) summary.failures.push({ file: entry.fileName, source: sourceOf(entry), reason: failure });
      else summary.written += 1;
      finish(entry);
    }
  }

  summary.bytes = await writeIndex(options.out, all, new Set(summary.failures.map((failure) => failure.file)));
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}

/** Checks the sha256 and writes the file; returns a failure reason or undefined. */
async function placeVerified(out: string, entry: PoolEntry, data: Buffer): Promise<string | undefined> {
  const actual = sha256Hex(data);
  if (actual !== entry.sha256) {
    return `sha256 mismatch: the manifest expects ${entry.sha256}, the package contains ${actual} (Debian may have replaced this version; update the manifest only after checking the new file)`;
  }
  await writeFileAtomic(poolFile(out, entry), data);
  return undefined;
}

/**
 * Rewrites index.tsv with every manifest file present in the pool, except this run's
 * failures; returns their total size in bytes. Presence means verified, because files are
 * only ever renamed into place after their sha256 matched.
 */
async function writeIndex(out: string, entries: PoolEntry[], failed: Set<string>): Promise<number> {
  let bytes = 0;
  const rows: string[][] = [];
  for (const entry of entries.filter((e) => !failed.has(e.fileName))) {
    const info = await stat(poolFile(out, entry)).catch(() => undefined);
    if (!info) continue;
    bytes += info.size;
    rows.push([`${entry.split}/${entry.fileName}`, entry.split, entry.group, entry.license, entry.sha256, String(entry.width), String(entry.height), sourceOf(entry)]);
  }
  const text = stringify(rows, { delimiter: '\t', header: true, columns: [...INDEX_COLUMNS] });
  await writeFileAtomic(path.join(out, 'index.tsv'), text);
  return bytes;
}
