"""Job entry points started by the TypeScript launcher (``python3 -m py_kernels.job``).

``train.rank:run_rank`` is one training process; the launcher starts one per rank with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT and OMP_NUM_THREADS set.

Spec keys of ``run_rank``: ``config`` (YAML path), ``run_dir``, ``shard_manifest``,
``eval_manifest`` (or null), ``overrides`` (``steps``, ``batch``, ``seed``: null keeps the
config's value), ``resume``, ``refine``, ``init``, ``device`` (cpu or cuda), ``threads``,
``weights`` (``lpips_vgg``, ``lpips_lin``, ``fid`` paths or null), ``timeout_s`` and
optionally ``model_factory`` (``module:function``).
"""
import os
import sys

import torch

from py_kernels.job import job
from py_kernels.train.config import load_train_config
from py_kernels.train.distributed import init_distributed, shutdown
from py_kernels.train.model_adapter import DEFAULT_FACTORY
from py_kernels.train.resolve import apply_overrides
from py_kernels.train.trainer import RunOptions, run_training


def stop_with_parent() -> None:
    """Ask Linux to send SIGTERM to this rank when the launcher dies, even by SIGKILL.

    The ranks run in their own process groups, so a launcher killed without a chance to
    signal them would otherwise leave them training. Elsewhere this is a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() == 1:  # the launcher died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _log(message: str) -> None:
    sys.stderr.write(f"[rank {os.environ.get('RANK', '0')}] {message}\n")
    sys.stderr.flush()


@job
def run_rank(spec, report):
    stop_with_parent()
    config = apply_overrides(load_train_config(spec["config"]), spec.get("overrides") or {})
    torch.set_num_threads(int(spec.get("threads") or 1))
    ctx = init_distributed(spec.get("device", "cpu"), float(spec.get("timeout_s", 600)))
    try:
        options = RunOptions(
            run_dir=spec["run_dir"],
            shard_manifest=spec["shard_manifest"],
            eval_manifest=spec.get("eval_manifest"),
            model_factory=spec.get("model_factory") or DEFAULT_FACTORY,
            resume=bool(spec.get("resume")),
            refine=bool(spec.get("refine", True)),
            init=str(spec.get("init", "entropy")),
            weights=dict(spec.get("weights") or {}),
        )
        return run_training(config, options, ctx, report, _log)
    finally:
        shutdown(ctx)
