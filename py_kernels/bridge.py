"""Entry point that the TypeScript bridge loads into its Python process.

Contract: ``invoke(entry, args_json)`` takes an entry-point name ``"module:function"``
(a module under ``py_kernels``) and a JSON object of keyword arguments, and always returns
one JSON string: ``{"ok": true, "result": ...}`` or
``{"ok": false, "type": ..., "message": ..., "traceback": ...}``. Only functions marked
with :func:`entry_point` can be called. Non-finite floats are encoded as
``{"$float": "nan" | "inf" | "-inf"}`` because a bare NaN kills the Node side of pythonia.
Bulk data (images, tensors) travels as files whose paths are passed in the arguments.
"""
import importlib
import json
import math
import os
import sys
import traceback

# Python's stdout is Node's stdout under pythonia: keep it free for the CLI's results.
sys.stdout = sys.stderr

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

ENTRY_ATTRIBUTE = "__gpstoken_entry__"


def entry_point(function):
    """Mark ``function`` as callable from TypeScript through :func:`invoke`."""
    setattr(function, ENTRY_ATTRIBUTE, True)
    return function


def encode_nonfinite(value):
    """Return ``value`` with every NaN or infinite float replaced by a tagged object."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {str(k): encode_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_nonfinite(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return encode_nonfinite(value.item())
    return value


def resolve_entry(entry):
    """Import ``"module:function"`` from ``py_kernels`` and check it is an entry point."""
    module_name, _, function_name = entry.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"entry point {entry!r} must have the form 'module:function'")
    if module_name.startswith("."):
        raise ValueError(f"entry point {entry!r} must name an absolute module")
    module = importlib.import_module(f"py_kernels.{module_name}")
    function = getattr(module, function_name, None)
    if function is None or not getattr(function, ENTRY_ATTRIBUTE, False):
        raise ValueError(f"{entry!r} is not a backend entry point")
    return function


def invoke(entry, args_json):
    """Run one entry point and return its result or its error as one JSON string."""
    try:
        kwargs = json.loads(args_json) if args_json else {}
        if not isinstance(kwargs, dict):
            raise TypeError("entry-point arguments must be a JSON object")
        result = resolve_entry(entry)(**kwargs)
        return json.dumps({"ok": True, "result": encode_nonfinite(result)}, allow_nan=False)
    except BaseException as error:  # noqa: BLE001 - every failure must reach TypeScript as data
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return json.dumps(
            {
                "ok": False,
                "type": type(error).__name__,
                "message": str(error),
                "traceback": traceback.format_exc(),
            }
        )


@entry_point
def ping():
    """Report the interpreter, torch and device, so the caller knows the backend works."""
    import numpy
    import torch

    cuda = bool(torch.cuda.is_available())
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "threads": torch.get_num_threads(),
    }


@entry_point
def echo_float(text):
    """Return ``float(text)``: lets the bridge tests send NaN and infinities back."""
    return {"value": float(text)}
