"""Training checkpoints: one safetensors file per saved step under ``RUN_DIR/checkpoints``.

Tensor keys: ``model.*``, ``ema.*``, ``disc.*`` (state dicts), ``opt_ae.<i>.<name>`` and
``opt_disc.<i>.<name>`` (Adam state of parameter ``i``), ``rng.<rank>.torch``,
``rng.<rank>.cuda``, ``rng.<rank>.numpy`` and ``rng.<rank>.python`` (every rank's random
state, so a resumed run draws the same numbers). ``__metadata__`` contains the step, the
micro-step (the data-order position), the resolved config, the optimiser hyperparameters,
the world size and the library versions. Files appear atomically, and ``latest.json`` names
the newest complete one.
"""
import glob
import json
import os
import platform
import random
import re
from typing import Dict, Optional

import numpy as np
import torch

from py_kernels import safetensors_io
from py_kernels.checkpoints import check_state_dict

CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)\.safetensors$")
_FIT_LIMIT = 3  # keys listed per category in a resume mismatch report


class ResumeMismatchError(ValueError):
    """The run in ``--out`` cannot be continued with this config or rank layout (a usage error)."""


def versions() -> Dict[str, str]:
    return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}


# ---- random states ----

def capture_rng(device: torch.device) -> Dict[str, np.ndarray]:
    """This process's torch, CUDA, numpy and python random states as integer arrays."""
    state = {"torch": torch.get_rng_state().numpy().copy()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device).numpy().copy()
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    assert kind == "MT19937"
    state["numpy"] = np.concatenate([keys.astype(np.int64), [position, has_gauss]]).astype(np.int64)
    state["numpy_gauss"] = np.array([gauss], dtype=np.float64)
    version, internal, python_gauss = random.getstate()
    state["python"] = np.array([version, *internal], dtype=np.int64)
    state["python_gauss"] = np.array([np.nan if python_gauss is None else python_gauss], dtype=np.float64)
    return state


def restore_rng(state: Dict[str, np.ndarray], device: torch.device) -> None:
    torch.set_rng_state(torch.from_numpy(state["torch"].astype(np.uint8)))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(torch.from_numpy(state["cuda"].astype(np.uint8)), device)
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state[:624].astype(np.uint32), int(numpy_state[624]),
                         int(numpy_state[625]), float(state["numpy_gauss"][0])))
    python_state = state["python"]
    python_gauss = float(state["python_gauss"][0])
    random.setstate((int(python_state[0]), tuple(int(v) for v in python_state[1:]),
                     None if np.isnan(python_gauss) else python_gauss))


# ---- optimiser state ----

def _optimizer_tensors(optimizer: torch.optim.Optimizer, prefix: str) -> Dict[str, torch.Tensor]:
    tensors = {}
    for index, values in optimizer.state_dict()["state"].items():
        for name, value in values.items():
            tensors[f"{prefix}.{index}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors, prefix: str, groups) -> None:
    state: Dict[int, Dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ---- files ----

def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, "checkpoints", f"step-{step:08d}.safetensors")


def save_checkpoint(run_dir: str, *, step: int, micro_step: int, model, ema, disc, opt_ae, opt_disc,
                    rng_states, config_json: str, extra: Dict[str, object], keep: int) -> str:
    """Write the checkpoint of ``step``, point latest.json at it and prune older periodic ones."""
    tensors: Dict[str, torch.Tensor] = {}
    for prefix, state in (("model", model.state_dict()), ("ema", ema.state_dict()), ("disc", disc.state_dict())):
        tensors.update({f"{prefix}.{k}": v for k, v in state.items()})
    tensors.update(_optimizer_tensors(opt_ae, "opt_ae"))
    tensors.update(_optimizer_tensors(opt_disc, "opt_disc"))
    for rank, state in enumerate(rng_states):
        tensors.update({f"rng.{rank}.{k}": torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    metadata = {
        "format": "gpstoken-train-checkpoint-1",
        "step": str(step),
        "micro_step": str(micro_step),
        "ema_step": str(ema.step),
        "config": config_json,
        "opt_ae_groups": json.dumps(opt_ae.state_dict()["param_groups"]),
        "opt_disc_groups": json.dumps(opt_disc.state_dict()["param_groups"]),
        "versions": json.dumps(versions()),
        **{k: json.dumps(v) for k, v in extra.items()},
    }
    path = checkpoint_path(run_dir, step)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.save(path, tensors, metadata)
    _write_latest(run_dir, step, path)
    _prune(run_dir, keep, protect=path)
    return path


def _write_latest(run_dir: str, step: int, path: str) -> None:
    latest = os.path.join(run_dir, "checkpoints", "latest.json")
    temporary = f"{latest}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"step": step, "file": os.path.basename(path)}, handle)
    os.replace(temporary, latest)


def _prune(run_dir: str, keep: int, protect: str) -> None:
    files = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "step-*.safetensors")))
    for old in files[:-keep]:
        if os.path.abspath(old) != os.path.abspath(protect):
            os.remove(old)


def latest_checkpoint(run_dir: str) -> Optional[str]:
    """The newest complete checkpoint of a run, or None when it has none."""
    folder = os.path.join(run_dir, "checkpoints")
    latest = os.path.join(folder, "latest.json")
    if os.path.exists(latest):
        with open(latest, "r", encoding="utf-8") as handle:
            path = os.path.join(folder, json.load(handle)["file"])
        if os.path.exists(path):
            return path
    steps = sorted((int(m.group(1)), name) for name in os.listdir(folder) if (m := CHECKPOINT_PATTERN.match(name))) \
        if os.path.isdir(folder) else []
    return os.path.join(folder, steps[-1][1]) if steps else None


def load_checkpoint(path: str, device: torch.device):
    """(tensors on ``device``, metadata) of a checkpoint; raises ValueError on foreign files."""
    tensors, metadata = safetensors_io.load_torch(path, device="cpu")
    if metadata.get("format") != "gpstoken-train-checkpoint-1":
        raise ValueError(f"{path}: not a gpstoken training checkpoint (format {metadata.get('format')!r})")
    return tensors, metadata


def _short_report(lines):
    """check_state_dict's report with at most _FIT_LIMIT keys per category."""
    out, shown, total = [], 0, 0
    for line in lines:
        if not line.startswith("    "):
            out.append(line)
            shown, total = 0, int(re.search(r"\((\d+)\):$", line).group(1))
        elif not line.startswith("    ... and"):
            shown += 1
            if shown <= _FIT_LIMIT:
                out.append(line)
            elif shown == _FIT_LIMIT + 1:
                out.append(f"    ... and {total - _FIT_LIMIT} more")
    return out


def check_fits(tensors, path: str, run_dir: str, config_source: str, **modules) -> None:
    """Raise ResumeMismatchError with one short report when the checkpoint's weights do not fit ``modules``."""
    lines = []
    for prefix, module in modules.items():
        section = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        # Scalars such as BatchNorm's num_batches_tracked come back from safetensors as [1].
        expected = module.state_dict()
        section = {k: v.reshape(()) if k in expected and expected[k].dim() == 0 and v.numel() == 1 else v
                   for k, v in section.items()}
        problems = check_state_dict(section, module)
        if problems:
            lines.append(f"  {prefix}:")
            lines.extend("  " + line for line in _short_report(problems))
    if lines:
        raise ResumeMismatchError("\n".join(
            [f"{path}: checkpoint does not fit the model built from --config {config_source}:"] + lines +
            [f"The run was trained with the config saved in {os.path.join(run_dir, 'config.resolved.json')}; "
             "resume with that config, or choose a new --out to train this one from scratch."]))


def restore_training_state(tensors, metadata, *, model, ema, disc, opt_ae, opt_disc, device):
    """Load weights and optimiser states in place; returns (step, micro_step)."""
    def section(prefix):
        return {k[len(prefix) + 1:]: v.to(device) for k, v in tensors.items() if k.startswith(prefix + ".")}

    model.load_state_dict(section("model"))
    ema.load_state_dict(section("ema"), step=int(metadata["ema_step"]))
    disc.load_state_dict(section("disc"))
    _load_optimizer(opt_ae, {k: v.to(device) for k, v in tensors.items() if k.startswith("opt_ae.")},
                    "opt_ae", json.loads(metadata["opt_ae_groups"]))
    _load_optimizer(opt_disc, {k: v.to(device) for k, v in tensors.items() if k.startswith("opt_disc.")},
                    "opt_disc", json.loads(metadata["opt_disc_groups"]))
    return int(metadata["step"]), int(metadata["micro_step"])


def rng_state_of(tensors, rank: int) -> Optional[Dict[str, np.ndarray]]:
    prefix = f"rng.{rank}."
    state = {k[len(prefix):]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}
    return state or None

