"""Loading and saving GPSToken weights.

Reading: ``.safetensors`` (the published format) through py_kernels.safetensors_io, and
``.pt`` / ``.pth`` / ``.ckpt`` / ``.bin`` only through ``torch.load(..., weights_only=True)``, so
no file is ever unpickled into arbitrary objects. Containers are unwrapped: a dict holding
the weights under ``state_dict``, ``model``, ``ema``, ``model_ema`` or ``ema_model``, and a
``module.`` / ``model.`` prefix shared by every key (DDP and accelerate wrappers). EMA
bookkeeping entries (``decay``, ``num_updates``, ``n_averaged``) are dropped.

Checking is strict: every problem is collected into one report (missing, unexpected and
mis-shaped keys, non-finite values) that names the file and the config it was checked
against, and nothing is loaded unless the report is empty.

Saving: safetensors with the resolved config (``gpsconfig``, ``decoderconfig``, the keys the
golden files use) and the versions of torch, python and the gpstoken commit in metadata.
"""
import os
import platform
import subprocess
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from . import safetensors_io
from .config import TokenizerConfig, config_from_metadata

_CONTAINER_KEYS = ("state_dict", "model", "ema", "model_ema", "ema_model")
_WRAPPER_PREFIXES = ("module.", "model.", "ema_model.", "ema.")
_EMA_BOOKKEEPING = ("decay", "num_updates", "n_averaged")
_PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
_REPORT_LIMIT = 20  # keys listed per category before "... and N more"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message is the whole report."""


def read_state_dict(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Return ``(state_dict, metadata)`` from a safetensors or weights-only torch file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.endswith(".safetensors"):
        try:
            return safetensors_io.load_torch(path)
        except safetensors_io.SafetensorsError as error:
            raise CheckpointError(str(error)) from error
    if path.endswith(_PICKLE_SUFFIXES):
        return _read_torch_file(path), {}
    raise CheckpointError(
        f"{path}: unknown checkpoint format; expected .safetensors, or .pt/.pth/.ckpt/.bin saved with torch.save"
    )


def _read_torch_file(path: str) -> Dict[str, torch.Tensor]:
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError ...
        raise CheckpointError(
            f"{path}: cannot be read with torch.load(weights_only=True) ({type(error).__name__}: {error}); "
            "files that need full unpickling are refused, convert them to safetensors in a trusted environment"
        ) from error
    return unwrap_state_dict(raw, path)


def unwrap_state_dict(raw, path: str = "<checkpoint>") -> Dict[str, torch.Tensor]:
    """Find the tensor dict inside common checkpoint containers and strip wrapper prefixes."""
    while isinstance(raw, Mapping) and not _is_tensor_dict(raw):
        inner = next((raw[key] for key in _CONTAINER_KEYS if isinstance(raw.get(key), Mapping)), None)
        if inner is None:
            raise CheckpointError(
                f"{path}: contains a dict with keys {sorted(map(str, raw))[:10]} but no weights; expected "
                f"a state dict or one under {', '.join(_CONTAINER_KEYS)}"
            )
        raw = inner
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{path}: contains a {type(raw).__name__}, not a state dict")
    state = {k: v for k, v in raw.items() if k not in _EMA_BOOKKEEPING}
    for prefix in _WRAPPER_PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def _is_tensor_dict(raw: Mapping) -> bool:
    return len(raw) > 0 and all(isinstance(v, torch.Tensor) for v in raw.values())


def check_state_dict(state: Mapping[str, torch.Tensor], model: torch.nn.Module) -> List[str]:
    """List every mismatch between ``state`` and ``model``'s layout, and every non-finite tensor."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k}: expected {list(expected[k].shape)}, found {list(state[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    nonfinite = [
        f"{k}: {int(torch.isnan(v).sum())} NaN, {int(torch.isinf(v).sum())} infinite"
        for k, v in state.items()
        if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    lines = []
    for title, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("mis-shaped keys", misshaped),
        ("non-finite weights", nonfinite),
    ):
        if items:
            lines.append(f"  {title} ({len(items)}):")
            lines.extend(f"    {item}" for item in items[:_REPORT_LIMIT])
            if len(items) > _REPORT_LIMIT:
                lines.append(f"    ... and {len(items) - _REPORT_LIMIT} more")
    return lines


def load_weights(model, path: str, config: Optional[TokenizerConfig] = None) -> Dict[str, str]:
    """Load ``path`` into ``model`` strictly; returns the checkpoint metadata.

    Raises CheckpointError with one report naming the file and the config checked against.
    """
    state, metadata = read_state_dict(path)
    problems = check_state_dict(state, model)
    if problems:
        config = config or getattr(model, "config", None)
        source = getattr(config, "source", "<unknown>")
        layout = any(line.startswith(("  missing keys", "  unexpected keys", "  mis-shaped keys")) for line in problems)
        if layout:
            lines = [f"{path}: checkpoint does not fit the model built from {source}:"] + problems
            lines.append(_hint(metadata, path, config))
        else:
            # The layout fits: the config is right, the values are not.
            lines = [f"{path}: checkpoint holds non-finite weights:"] + problems
            lines.append("The training that wrote them diverged; load an earlier checkpoint of that run, "
                         "or retrain with a lower learning rate.")
        raise CheckpointError("\n".join(line for line in lines if line))
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    return metadata


def _hint(metadata: Mapping[str, str], path: str, config) -> str:
    try:
        stored = config_from_metadata(metadata, path)
    except ValueError:
        stored = None
    if stored is not None and config is not None and stored.to_dict() != config.to_dict():
        return (
            "The checkpoint's metadata records a different config "
            f"(gpsconfig {metadata['gpsconfig']}); pass the config it was trained with."
        )
    return "Check that the config matches the checkpoint (gps_c, gpsenc_c, gpsenc_n, rois, decoder ch/ch_mult)."


def save_checkpoint(model, path: str, config: TokenizerConfig, extra: Optional[Mapping[str, str]] = None) -> None:
    """Write the weights as safetensors with the config and versions in metadata (atomically)."""
    metadata = dict(config.to_metadata())
    metadata.update(version_metadata())
    metadata.update({str(k): str(v) for k, v in (extra or {}).items()})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    safetensors_io.save(path, state, metadata)


def version_metadata() -> Dict[str, str]:
    """torch, python and (when the repository is a git checkout) the gpstoken commit."""
    return {"torch": torch.__version__, "python": platform.python_version(), "gpstoken_commit": git_commit()}


def git_commit() -> str:
    """Return the commit of this checkout (``-dirty`` when it has changes), or "unknown" outside git."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")
