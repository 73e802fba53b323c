"""The C++ CPU splatting kernels, compiled on first use and cached per torch version and source.

The build goes to ``$GPSTOKEN_EXTENSIONS_DIR``, else ``$XDG_CACHE_HOME/gpstoken/extensions``,
else ``~/.cache/gpstoken/extensions``, in a folder named after the torch version and a hash of
the source, so a changed source or torch rebuilds and old builds are never loaded by mistake.
"""
import contextlib
import hashlib
import io
import os
import sys
import threading
import warnings

import torch

from .common import check_inputs

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csrc", "splat_cpu.cpp")
_lock = threading.Lock()
_state = {"module": None, "error": None}


def extension_dir():
    """Return the folder this torch version and source build into."""
    root = os.environ.get("GPSTOKEN_EXTENSIONS_DIR")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache, "gpstoken", "extensions")
    with open(_SOURCE, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:12]
    torch_tag = torch.__version__.replace("+", "_")
    return os.path.join(root, f"splat_cpu-torch{torch_tag}-{digest}"), digest


def load_extension():
    """Return the compiled module, or None (after one warning) when it cannot be built."""
    with _lock:
        if _state["module"] is None and _state["error"] is None:
            try:
                _state["module"] = _build()
            except Exception as error:  # noqa: BLE001 - any build failure means: use the torch version
                _state["error"] = error
                first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
                warnings.warn(
                    f"gpstoken: the C++ splatting extension could not be built ({first_line}); "
                    "using the slower pure-torch renderer. Install g++ and ninja, or set "
                    "GPSTOKEN_SPLAT=torch to silence this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return _state["module"]


def extension_error():
    """Return the exception of a failed build, or None."""
    return _state["error"]


# torch.utils.cpp_extension prints this line to stderr when it is imported on a machine
# without CUDA (torch 1.13 and 2.x). It is noise for a CPU-only extension.
_NO_CUDA_NOTICE = "No CUDA runtime is found"


def _import_cpp_extension_load():
    """Import ``torch.utils.cpp_extension.load``, dropping only the no-CUDA notice from stderr."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            from torch.utils.cpp_extension import load
    finally:
        for line in captured.getvalue().splitlines(keepends=True):
            if not line.startswith(_NO_CUDA_NOTICE):
                sys.stderr.write(line)
    return load


def _build():
    load = _import_cpp_extension_load()

    folder, digest = extension_dir()
    os.makedirs(folder, exist_ok=True)
    return load(
        name=f"gpstoken_splat_cpu_{digest}",
        sources=[_SOURCE],
        build_directory=folder,
        extra_cflags=["-O3", "-fopenmp"],
        extra_ldflags=["-fopenmp"],
        verbose=False,
    )


class _SplatCpp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sigmas, coords, colors, height, width, support):
        module = load_extension()
        sigmas, coords, colors = sigmas.contiguous(), coords.contiguous(), colors.contiguous()
        ctx.save_for_backward(sigmas, coords, colors)
        ctx.support = support
        rendered = module.splat_forward(sigmas, coords, colors, height, width, support)  # [B, H, W, C]
        return rendered.permute(0, 3, 1, 2).contiguous()  # [B, C, H, W]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        sigmas, coords, colors = ctx.saved_tensors
        grad_hwc = grad_output.permute(0, 2, 3, 1).contiguous()  # [B, H, W, C]
        grads = _state["module"].splat_backward(sigmas, coords, colors, grad_hwc, ctx.support)
        return grads[0], grads[1], grads[2], None, None, None


def splat_cpp(sigmas, coords, colors, height, width, support=3.0):
    """Render with the C++ CPU kernels; raise RuntimeError when the extension is unavailable."""
    check_inputs(sigmas, coords, colors, height, width, support)
    if sigmas.device.type != "cpu":
        raise ValueError(f"the C++ splatting renderer runs on CPU only; got tensors on {sigmas.device}")
    if load_extension() is None:
        raise RuntimeError(
            "the C++ splatting extension is unavailable: " + str(extension_error())
        ) from extension_error()
    return _SplatCpp.apply(sigmas, coords, colors, int(height), int(width), float(support))
