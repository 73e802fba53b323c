"""Benchmark the splatting implementations side by side: median time and peak memory.

Shapes: M128 (128 tokens, 64x64 map, 16 channels, batch 8) and L256 (256 tokens, 64x64 map,
32 channels, batch 8), support factor 3 (the published gps_dmax). The Gaussians come from a
partition-like layout: the unit square is halved, always splitting the region with the highest
area x detail score (detail is a few random bumps), until there are N regions; each region
becomes a Gaussian as the entropy partition makes them (sigma = 2/3 of the region side in
[-1, 1] units, centred on the region) with rho drawn from [-0.3, 0.3]. Region sides come out
between 1/32 and 1/4 of the image, most between 1/16 and 1/4.

Method: every process runs with OMP_NUM_THREADS=1 and torch.set_num_threads(1). Peak memory:
each (shape, implementation, mode) gets a fresh Python process that builds the inputs, loads
the C++ extension if needed, reads its peak resident set size (ru_maxrss), runs the call once,
and reports the growth of the peak. On CUDA the peak is torch.cuda.max_memory_allocated.
Time: one process per (shape, mode) warms every implementation up, then times them in
round-robin order, `repeats` rounds, and reports each one's median. Interleaving makes the
ratios fair on a machine whose load changes during the run.

Run: make bench, or /usr/bin/python3 bench/splat_bench.py [--device cuda] [--repeats 7].
Writes results/bench-splat.csv.
"""
import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {
    # name: (tokens, height, width, channels, batch)
    "M128": (128, 64, 64, 16, 8),
    "L256": (256, 64, 64, 32, 8),
}
SUPPORT = 3.0
MODES = ("forward", "forward+backward")
COLUMNS = [
    "shape", "tokens", "height", "width", "channels", "batch", "support", "mode", "implementation",
    "device", "median_ms", "peak_mib", "speedup_vs_dense", "memory_vs_dense", "repeats", "threads",
    "torch", "memory_method",
]


def partition_layout(torch, tokens, seed):
    """Return (sigmas [N, 3], coords [N, 2]) of a partition-like layout of the unit square."""
    generator = torch.Generator().manual_seed(seed)
    bumps = torch.rand(3, 3, generator=generator)  # rows (centre x, centre y, width)

    def detail(x, y):
        distance = (bumps[:, 0] - x) ** 2 + (bumps[:, 1] - y) ** 2
        return float(0.1 + torch.exp(-distance / (2 * (0.05 + 0.15 * bumps[:, 2]) ** 2)).sum())

    regions = [(0.0, 0.0, 1.0, 1.0)]  # (x0, y0, x1, y1)
    while len(regions) < tokens:
        scores = [(x1 - x0) * (y1 - y0) * detail((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in regions]
        x0, y0, x1, y1 = regions.pop(scores.index(max(scores)))
        if x1 - x0 >= y1 - y0:
            middle = (x0 + x1) / 2
            regions += [(x0, y0, middle, y1), (middle, y0, x1, y1)]
        else:
            middle = (y0 + y1) / 2
            regions += [(x0, y0, x1, middle), (x0, middle, x1, y1)]

    boxes = torch.tensor(regions)  # [N, 4]
    sides = boxes[:, 2:] - boxes[:, :2]  # [N, 2] fractions of the image
    rho = 0.6 * torch.rand(tokens, 1, generator=generator) - 0.3
    sigmas = torch.cat([sides * 2.0 / 3.0, rho], dim=1)  # [N, 3]
    coords = boxes[:, :2] + boxes[:, 2:] - 1.0  # [N, 2] region centres in [-1, 1]
    return sigmas, coords


def make_inputs(torch, shape, device):
    tokens, height, width, channels, batch = SHAPES[shape]
    layouts = [partition_layout(torch, tokens, seed) for seed in range(batch)]
    sigmas = torch.stack([s for s, _ in layouts]).to(device)  # [B, N, 3]
    coords = torch.stack([c for _, c in layouts]).to(device)  # [B, N, 2]
    colors = torch.randn(batch, tokens, channels, generator=torch.Generator().manual_seed(99)).to(device)
    return sigmas, coords, colors


def prepare_call(torch, splatting, spec, implementation):
    """Return a function that runs one render (and backward) of the spec's shape and mode."""
    device = torch.device(spec["device"])
    _, height, width, _, _ = SHAPES[spec["shape"]]
    inputs = make_inputs(torch, spec["shape"], device)
    backward = spec["mode"] == "forward+backward"

    def call():
        leaves = [t.detach().requires_grad_(backward) for t in inputs]
        with torch.set_grad_enabled(backward):
            rendered = splatting.splat(*leaves, height, width, SUPPORT, implementation=implementation)
            if backward:
                rendered.square().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return call


def run_worker(spec):
    """Measure peak memory of one implementation, or time several, and print a JSON line."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, REPO_ROOT)
    from py_kernels import splatting

    if "cpp" in spec["implementations"] and splatting.cpp.load_extension() is None:
        print(json.dumps({"error": f"C++ extension unavailable: {splatting.cpp.extension_error()}"}))
        return
    calls = {name: prepare_call(torch, splatting, spec, name) for name in spec["implementations"]}
    if spec["task"] == "memory":
        (call,) = calls.values()
        print(json.dumps({"peak_mib": peak_memory(torch, spec["device"], call) / 2 ** 20}))
        return

    times = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(spec["repeats"]):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    medians = {name: 1e3 * statistics.median(values) for name, values in times.items()}
    print(json.dumps({"median_ms": medians, "torch": torch.__version__}))


def peak_memory(torch, device, call):
    """Return the growth of the peak memory, in bytes, during one call."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.max_memory_allocated()
        call()
        return torch.cuda.max_memory_allocated() - base
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024  # Linux reports KiB


def measure(spec):
    """Run one worker process and return its JSON result."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    environment.pop("GPSTOKEN_SPLAT", None)
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
        env=environment, capture_output=True, text=True, timeout=1800,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker failed for {spec}:\n{completed.stderr[-2000:]}")
    return json.loads(lines[-1])


def available(implementations, device):
    """Drop cpp (with a message) when the C++ extension cannot be built."""
    if "cpp" not in implementations:
        return implementations
    probe = measure({"task": "memory", "shape": "M128", "mode": "forward", "device": device,
                     "implementations": ["cpp"], "repeats": 1})
    if "error" in probe:
        print(f"cpp skipped: {probe['error']}", file=sys.stderr)
        return [name for name in implementations if name != "cpp"]
    return implementations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds over all implementations (default 7)")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "results", "bench-splat.csv"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(json.loads(args.worker))
        return

    implementations = available(["dense", "torch", "cpp"] if args.device == "cpu" else ["dense", "torch"],
                                args.device)
    memory_method = ("ru_maxrss growth in a fresh process" if args.device == "cpu"
                     else "torch.cuda.max_memory_allocated growth")
    rows = []
    for shape, (tokens, height, width, channels, batch) in SHAPES.items():
        for mode in MODES:
            base = {"shape": shape, "mode": mode, "device": args.device, "repeats": args.repeats}
            timing = measure(dict(base, task="time", implementations=implementations))
            peaks = {name: measure(dict(base, task="memory", implementations=[name]))["peak_mib"]
                     for name in implementations}
            for name in implementations:
                median_ms = timing["median_ms"][name]
                row = {
                    "shape": shape, "tokens": tokens, "height": height, "width": width,
                    "channels": channels, "batch": batch, "support": SUPPORT, "mode": mode,
                    "implementation": name, "device": args.device,
                    "median_ms": round(median_ms, 2), "peak_mib": round(peaks[name], 1),
                    "speedup_vs_dense": round(timing["median_ms"]["dense"] / median_ms, 2),
                    "memory_vs_dense": round(peaks[name] / max(peaks["dense"], 1e-9), 3),
                    "repeats": args.repeats, "threads": 1, "torch": timing["torch"],
                    "memory_method": memory_method,
                }
                rows.append(row)
                print(f"{shape:5} {mode:17} {name:6} {row['median_ms']:9.2f} ms "
                      f"{row['peak_mib']:8.1f} MiB  x{row['speedup_vs_dense']:<7} "
                      f"mem {row['memory_vs_dense']}", file=sys.stderr)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out} ({len(rows)} rows, {platform.processor() or platform.machine()})", file=sys.stderr)


if __name__ == "__main__":
    main()
