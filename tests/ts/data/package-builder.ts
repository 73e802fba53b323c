// Builds small Debian packages for tests with `dpkg-deb --build`.
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface PackageSpec {
  name: string;
  version: string;
  /** Regular files: archive path (with leading `/`) to bytes. */
  files: Record<string, Buffer>;
  /** Symbolic links: archive path to link target (relative or absolute). */
  links?: Record<string, string>;
  compression?: 'xz' | 'gzip' | 'zstd' | 'none';
}

/** Builds `<dir>/<name>_<version>_all.deb` and returns its path. */
export async function buildDeb(spec: PackageSpec, dir: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-deb-root-'));
  await mkdir(path.join(root, 'DEBIAN'));
  await writeFile(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${spec.name}\nVersion: ${spec.version}\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: test package\n`,
  );
  for (const [file, data] of Object.entries(spec.files)) {
    await mkdir(path.join(root, path.dirname(file)), { recursive: true });
    await writeFile(path.join(root, file), data);
  }
  for (const [file, target] of Object.entries(spec.links ?? {})) {
    await mkdir(path.join(root, path.dirname(file)), { recursive: true });
    await symlink(target, path.join(root, file));
  }
  const deb = path.join(dir, `${spec.name}_${spec.version.replace(/:/g, '%3a')}_all.deb`);
  await execa('dpkg-deb', ['--root-owner-group', `-Z${spec.compression ?? 'xz'}`, '--build', root, deb]);
  return deb;
}
