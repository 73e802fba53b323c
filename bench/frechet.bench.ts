// Fréchet distance timing: the TypeScript implementation (pivoted Cholesky, congruence,
// Householder tridiagonalisation, implicit QL) against pytorch-fid's scipy formula
// (scipy.linalg.sqrtm of sigma1 @ sigma2) on the same matrices in the same run.
// Writes results/bench-frechet.csv. Usage: node --import tsx bench/frechet.bench.ts [DIMS...]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'csv-stringify/sync';
import { REPO_ROOT } from '../ts/bridge/backend.ts';
import { frechetDistance } from '../ts/metrics/frechet.ts';
import { readSafetensors } from '../ts/util/safetensors.ts';

// Covariances of 2 * dim Gaussian samples, isotropic or graded over three decades; scipy is
// timed with wall and CPU clocks.
const PYTHON = `
import json, sys, time
import numpy as np
from scipy import linalg
sys.path.insert(0, sys.argv[1])
from py_kernels.safetensors_io import save

def samples(kind, dim, rng, scale, shift):
    z = rng.standard_normal((2 * dim, dim))
    if kind == "isotropic":
        return z * scale + shift
    # "graded": per-dimension scales over three decades and a mixing, like Inception features.
    mixing = np.eye(dim) + 0.05 * np.random.default_rng(dim).standard_normal((dim, dim))
    return (z * np.logspace(-2, 1, dim) * scale) @ mixing + shift

out = {}
for kind in ("graded", "isotropic"):
    for dim in [int(d) for d in sys.argv[3].split(",")]:
        rng = np.random.default_rng(dim)
        x = samples(kind, dim, rng, 1.0, 0.5)
        y = samples(kind, dim, rng, 1.1, 0.45)
        mu1, mu2 = x.mean(0), y.mean(0)
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        save(f"{sys.argv[2]}/{kind}-{dim}.safetensors", {"mu1": mu1, "mu2": mu2, "sigma1": s1, "sigma2": s2})
        wall, cpu = time.perf_counter(), time.process_time()
        covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
        diff = mu1 - mu2
        fd = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
        out[f"{kind}-{dim}"] = {"fd": fd, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
print(json.dumps(out))
`;

const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function main(): Promise<void> {
  const dims = process.argv.slice(2).map(Number);
  if (dims.length === 0) dims.push(512, 2048);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-bench-frechet-'));
  try {
    const { stdout } = await execa('/usr/bin/python3', ['-c', PYTHON, REPO_ROOT, folder, dims.join(',')], { timeout: 1_800_000 });
    const scipy = JSON.parse(stdout) as Record<string, { fd: number; wall: number; cpu: number }>;
    const rows = [];
    for (const [kind, dim] of ['graded', 'isotropic'].flatMap((k) => dims.map((d) => [k, d] as const))) {
      const { tensors } = await readSafetensors(path.join(folder, `${kind}-${dim}.safetensors`));
      const get = (name: string) => tensors.get(name)!.data as Float64Array;
      const wall = performance.now();
      const cpu = cpuSeconds();
      const result = frechetDistance(get('mu1'), get('sigma1'), get('mu2'), get('sigma2'));
      const tsCpu = cpuSeconds() - cpu;
      const tsWall = (performance.now() - wall) / 1000;
      const reference = scipy[`${kind}-${dim}`]!;
      const row = {
        matrices: kind,
        dim,
        samples: 2 * dim,
        ts_wall_s: tsWall.toFixed(3),
        ts_cpu_s: tsCpu.toFixed(3),
        scipy_wall_s: reference.wall.toFixed(3),
        scipy_cpu_s: reference.cpu.toFixed(3),
        speedup_wall: (reference.wall / tsWall).toFixed(3),
        speedup_cpu: (reference.cpu / tsCpu).toFixed(3),
        fd_ts: result.distance,
        fd_scipy: reference.fd,
        relative_difference: Math.abs(result.distance - reference.fd) / Math.abs(reference.fd),
        blas_threads: process.env.OPENBLAS_NUM_THREADS ?? process.env.OMP_NUM_THREADS ?? 'default',
        cpus: os.availableParallelism(),
      };
      rows.push(row);
      process.stderr.write(`${kind} dim ${dim}: TypeScript ${row.ts_wall_s} s (cpu ${row.ts_cpu_s}), scipy ${row.scipy_wall_s} s (cpu ${row.scipy_cpu_s}), speedup ${row.speedup_wall}x wall, ${row.speedup_cpu}x cpu, relative difference ${row.relative_difference.toExponential(2)}\n`);
    }
    const columns = Object.keys(rows[0]!);
    await mkdir(path.join(REPO_ROOT, 'results'), { recursive: true });
    await writeFile(path.join(REPO_ROOT, 'results', 'bench-frechet.csv'), stringify(rows, { header: true, columns }));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
