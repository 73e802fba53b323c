"""Splatting renderer: golden parity of every implementation, gradients, edge cases, dispatch."""
import json
import os
import warnings

import numpy as np
import pytest
import torch

from py_kernels import splatting
from py_kernels.safetensors_io import load_numpy, read_metadata
from py_kernels.splatting import cpp as cpp_module
from py_kernels.splatting import tiled as tiled_module

SUPPORTS = (3, 5, 100)
GOLDEN_HEIGHT, GOLDEN_WIDTH = 40, 56
TOLERANCE = 1e-4


def cpp_available():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cpp_module.load_extension() is not None


def render_with(name, *args, **kwargs):
    if name == "cpp" and not cpp_available():
        pytest.skip(f"C++ extension could not be built: {cpp_module.extension_error()}")
    return splatting.splat(*args, implementation=name, **kwargs)


def relative_error(actual, expected):
    """Max absolute difference divided by the max magnitude of the expected tensor."""
    return float((actual - expected).abs().max() / expected.abs().max())


@pytest.fixture(scope="module")
def golden(golden_dir):
    tensors, metadata = load_numpy(os.path.join(golden_dir, "model", "splat_io.safetensors"))
    assert "rendered is [H, W, C]" in metadata["layout"]
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in tensors.items()}


def random_gaussians(batch, count, channels, seed, dtype=torch.float32, sigma_range=(0.03, 0.4)):
    generator = torch.Generator().manual_seed(seed)
    low, high = sigma_range
    sigma_xy = low + (high - low) * torch.rand(batch, count, 2, generator=generator)
    rho = 1.8 * torch.rand(batch, count, 1, generator=generator) - 0.9
    sigmas = torch.cat([sigma_xy, rho], dim=-1).to(dtype)
    coords = (2.6 * torch.rand(batch, count, 2, generator=generator) - 1.3).to(dtype)
    colors = torch.randn(batch, count, channels, generator=generator).to(dtype)
    return sigmas, coords, colors


def render_and_grads(name, sigmas, coords, colors, height, width, support, cotangent=None):
    inputs = [t.detach().clone().requires_grad_() for t in (sigmas, coords, colors)]
    rendered = render_with(name, *inputs, height, width, support)
    if cotangent is None:
        cotangent = torch.linspace(-1, 1, rendered.numel(), dtype=rendered.dtype).reshape(rendered.shape)
    (rendered * cotangent).sum().backward()
    return rendered.detach(), [t.grad for t in inputs]


def assert_matches_dense(name, sigmas, coords, colors, height, width, support, tolerance=1e-5):
    expected, expected_grads = render_and_grads("dense", sigmas, coords, colors, height, width, support)
    actual, actual_grads = render_and_grads(name, sigmas, coords, colors, height, width, support)
    assert actual.shape == expected.shape
    assert float((actual - expected).abs().max()) <= tolerance * max(1.0, float(expected.abs().max()))
    for label, got, want in zip(("sigmas", "coords", "colors"), actual_grads, expected_grads):
        scale = max(1.0, float(want.abs().max()))
        assert float((got - want).abs().max()) <= tolerance * scale, label


@pytest.mark.parametrize("support", SUPPORTS)
@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_golden_parity(golden, name, support):
    cotangent = golden["cotangent"].permute(2, 0, 1)[None]  # [1, C, H, W]
    rendered, grads = render_and_grads(
        name, golden["sigmas"][None], golden["coords"][None], golden["colors"][None],
        GOLDEN_HEIGHT, GOLDEN_WIDTH, float(support), cotangent,
    )
    expected = golden[f"rendered_d{support}"].permute(2, 0, 1)[None]
    assert rendered.shape == (1, 6, GOLDEN_HEIGHT, GOLDEN_WIDTH)
    assert relative_error(rendered, expected) < TOLERANCE
    for label, grad in zip(("sigmas", "coords", "colors"), grads):
        assert relative_error(grad[0], golden[f"grad_{label}_d{support}"]) < TOLERANCE, label


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_tiny_model_render_parity(golden_dir, name):
    # The published tiny model's encoder tokens [2, 16, 4 + 5] splatted on its 16x16 map.
    tensors, _ = load_numpy(os.path.join(golden_dir, "model", "tiny_io.safetensors"))
    config = json.loads(read_metadata(os.path.join(golden_dir, "model", "tiny_weights.safetensors"))["gpsconfig"])
    tokens = torch.from_numpy(tensors["tokens"])
    height, width = config["gps_rs"]
    rendered = render_with(name, tokens[..., :3], tokens[..., 3:5], tokens[..., 5:], height, width,
                           float(config["gps_dmax"]))
    assert relative_error(rendered, torch.from_numpy(tensors["rendered"])) < TOLERANCE


@pytest.mark.parametrize("name", ["torch", "cpp"])
def test_gradcheck_float64(name):
    sigmas, coords, colors = random_gaussians(2, 4, 3, seed=1, dtype=torch.float64, sigma_range=(0.1, 0.5))
    inputs = tuple(t.requires_grad_() for t in (sigmas, coords, colors))
    assert torch.autograd.gradcheck(lambda s, c, k: render_with(name, s, c, k, 7, 9, 2.5), inputs)


EDGE_CASES = {
    # name: (batch, count, channels, height, width, support, sigma range, override)
    "random": (2, 24, 5, 17, 23, 3.0, (0.03, 0.4), None),
    "partly outside": (1, 16, 3, 12, 20, 3.0, (0.1, 0.5), lambda s, c: c.mul_(1.4)),
    "tiny sigmas": (2, 20, 4, 16, 16, 3.0, (0.0005, 0.02), None),
    "rho near +1": (1, 8, 2, 15, 15, 3.0, (0.05, 0.3), lambda s, c: s[..., 2].fill_(0.99)),
    "rho near -1": (1, 8, 2, 15, 15, 3.0, (0.05, 0.3), lambda s, c: s[..., 2].fill_(-0.99)),
    "one gaussian": (3, 1, 4, 10, 13, 3.0, (0.1, 0.6), None),
    "one channel": (2, 12, 1, 9, 31, 5.0, (0.05, 0.3), None),
    "whole map support": (2, 10, 3, 14, 11, 100.0, (0.05, 0.3), None),
    "two pixel map": (1, 5, 2, 2, 2, 3.0, (0.2, 0.8), None),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("name", ["torch", "cpp"])
def test_fast_matches_dense(name, case):
    batch, count, channels, height, width, support, sigma_range, override = EDGE_CASES[case]
    sigmas, coords, colors = random_gaussians(batch, count, channels, seed=7, sigma_range=sigma_range)
    if override is not None:
        override(sigmas, coords)
    assert_matches_dense(name, sigmas, coords, colors, height, width, support)


@pytest.mark.parametrize("tile", [1, 3, 8, 32])
def test_tiled_any_tile_size(tile):
    sigmas, coords, colors = random_gaussians(2, 12, 3, seed=3)
    expected = splatting.splat_dense(sigmas, coords, colors, 19, 26, 3.0)
    actual = splatting.splat_tiled(sigmas, coords, colors, 19, 26, 3.0, tile=tile)
    assert float((actual - expected).abs().max()) < 1e-5


def test_tiled_small_groups_match(monkeypatch):
    # A tiny budget puts every tile in a group of its own, each padded to its own list length.
    sigmas, coords, colors = random_gaussians(2, 30, 4, seed=4)
    expected, expected_grads = render_and_grads("dense", sigmas, coords, colors, 33, 40, 3.0)
    monkeypatch.setitem(tiled_module.GROUP_ELEMENTS, "cpu", 1)
    plan = tiled_module.TilePlan(sigmas, coords, 33, 40, 3.0, tiled_module.TILE)
    assert all(end - first == 1 for first, end, _ in plan.groups)
    actual, actual_grads = render_and_grads("torch", sigmas, coords, colors, 33, 40, 3.0)
    assert float((actual - expected).abs().max()) < 1e-5
    for got, want in zip(actual_grads, expected_grads):
        assert float((got - want).abs().max()) < 1e-5 * max(1.0, float(want.abs().max()))


def test_tiled_skips_far_gaussians():
    # Each support spans pixels 3.15 +- 4.7 (or the mirror image), so it reaches 2 x 2 tiles of 8,
    # and no tile lists both Gaussians.
    sigmas = torch.tensor([[[0.05, 0.05, 0.0], [0.05, 0.05, 0.0]]])
    coords = torch.tensor([[[-0.9, -0.9], [0.9, 0.9]]])
    plan = tiled_module.TilePlan(sigmas, coords, 64, 64, 3.0, 8)
    assert plan.groups == [(0, 8, 1)]
    items = sorted(int(i) for group in plan for i in group[0])
    assert items == [0, 1, 8, 9, 54, 55, 62, 63]


def test_tiled_packing_limits_padding():
    lengths = [40, 30, 24, 23, 10, 6, 5, 0, 0]
    assert tiled_module._pack(lengths, 64, 1 << 20) == [(0, 3, 40), (3, 4, 23), (4, 6, 10), (6, 7, 5)]
    assert tiled_module._pack(lengths, 64, 64 * 40 * 2) == [(0, 2, 40), (2, 4, 24), (4, 6, 10), (6, 7, 5)]


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_nan_gaussian_draws_nothing(name):
    sigmas = torch.tensor([[[float("nan"), 0.2, 0.0], [0.2, 0.2, 0.0]]])
    coords = torch.tensor([[[0.0, 0.0], [float("nan"), 0.0]]])
    colors = torch.ones(1, 2, 1)
    rendered = render_with(name, sigmas, coords, colors, 6, 6)
    assert torch.equal(rendered, torch.zeros(1, 1, 6, 6))


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_no_gaussians_render_zeros(name):
    inputs = [torch.zeros(2, 0, k, requires_grad=True) for k in (3, 2, 4)]
    rendered = render_with(name, *inputs, 5, 6)
    rendered.sum().backward()
    assert torch.equal(rendered, torch.zeros(2, 4, 5, 6))
    assert [tuple(t.grad.shape) for t in inputs] == [(2, 0, 3), (2, 0, 2), (2, 0, 4)]


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_single_gaussian_values(name):
    sigmas = torch.tensor([[[0.5, 0.25, 0.0]]])
    coords = torch.tensor([[[0.0, 0.0]]])
    colors = torch.tensor([[[2.0]]])
    rendered = render_with(name, sigmas, coords, colors, 3, 3, support=1.0)
    # Pixels sit at -1, 0, 1 on both axes; with support 1 only |dx| <= 0.5 and |dy| <= 0.25,
    # so the centre pixel alone is drawn, with weight exp(0) = 1.
    expected = torch.zeros(1, 1, 3, 3)
    expected[0, 0, 1, 1] = 2.0
    assert torch.equal(rendered, expected)


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_support_bound_is_inclusive(name):
    # sigma_x = 0.5 and support 2 put the bound exactly on the pixels at x = -1 and x = 1.
    sigmas = torch.tensor([[[0.5, 10.0, 0.0]]])
    coords = torch.tensor([[[0.0, 0.0]]])
    colors = torch.tensor([[[1.0]]])
    rendered = render_with(name, sigmas, coords, colors, 3, 3, support=2.0)
    edge = float(np.float32(np.exp(-0.5 * 4.0)))
    assert rendered[0, 0, 1].tolist() == pytest.approx([edge, 1.0, edge], rel=1e-6)


@pytest.mark.parametrize("name", splatting.IMPLEMENTATIONS)
def test_half_inputs_render_in_float32(name):
    sigmas, coords, colors = random_gaussians(1, 6, 2, seed=5)
    rendered = render_with(name, sigmas.half(), coords.half(), colors.half(), 8, 8)
    assert rendered.dtype == torch.float32


def test_resolve_implementation_order(monkeypatch):
    monkeypatch.setenv("GPSTOKEN_SPLAT", "dense")
    assert splatting.resolve_implementation("cpu") == "dense"
    assert splatting.resolve_implementation("cpu", "torch") == "torch"
    monkeypatch.delenv("GPSTOKEN_SPLAT")
    assert splatting.resolve_implementation("cuda") == "torch"
    assert splatting.resolve_implementation("cpu") == ("cpp" if cpp_available() else "torch")


def test_resolve_rejects_unknown_name(monkeypatch):
    monkeypatch.setenv("GPSTOKEN_SPLAT", "cuda")
    with pytest.raises(ValueError) as error:
        splatting.resolve_implementation("cpu")
    assert str(error.value) == "GPSTOKEN_SPLAT must be one of auto, dense, torch, cpp; got 'cuda'"


def test_failed_build_falls_back(monkeypatch):
    def broken_build():
        raise OSError("g++: command not found")

    monkeypatch.setattr(cpp_module, "_build", broken_build)
    monkeypatch.setitem(cpp_module._state, "module", None)
    monkeypatch.setitem(cpp_module._state, "error", None)
    monkeypatch.delenv("GPSTOKEN_SPLAT", raising=False)
    with pytest.warns(RuntimeWarning, match=r"could not be built \(g\+\+: command not found\)"):
        assert splatting.resolve_implementation("cpu") == "torch"
    with pytest.raises(RuntimeError, match="the C\\+\\+ splatting extension is unavailable"):
        splatting.splat_cpp(*random_gaussians(1, 2, 1, seed=0), 4, 4)


def test_extension_dir_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("GPSTOKEN_EXTENSIONS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder, digest = cpp_module.extension_dir()
    torch_tag = torch.__version__.replace("+", "_")
    assert folder == os.path.join(str(tmp_path), "gpstoken", "extensions", f"splat_cpu-torch{torch_tag}-{digest}")
    assert len(digest) == 12
    monkeypatch.setenv("GPSTOKEN_EXTENSIONS_DIR", str(tmp_path / "ext"))
    assert cpp_module.extension_dir()[0].startswith(str(tmp_path / "ext") + os.sep)


BAD_INPUTS = [
    ((2, 3, 2), (2, 3, 2), (2, 3, 4), "sigmas must be [B, N, 3] rows (sigma_x, sigma_y, rho); got shape [2, 3, 2]"),
    ((2, 3, 3), (2, 4, 2), (2, 3, 4),
     "coords must be [B, N, 2] = [2, 3, 2] rows (x, y) to match sigmas; got shape [2, 4, 2]"),
    ((2, 3, 3), (2, 3, 2), (3, 3, 4),
     "colors must be [B, N, C] with B, N = 2, 3 to match sigmas; got shape [3, 3, 4]"),
]


@pytest.mark.parametrize("sigma_shape, coord_shape, color_shape, message", BAD_INPUTS)
def test_rejects_bad_shapes(sigma_shape, coord_shape, color_shape, message):
    with pytest.raises(ValueError) as error:
        splatting.splat(torch.rand(sigma_shape), torch.rand(coord_shape), torch.rand(color_shape), 8, 8)
    assert str(error.value) == message


def test_rejects_one_pixel_axis():
    with pytest.raises(ValueError) as error:
        splatting.splat(torch.rand(1, 2, 3), torch.rand(1, 2, 2), torch.rand(1, 2, 1), 1, 8)
    assert str(error.value) == "height must be an integer of at least 2 (the grid spans [-1, 1]); got 1"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_tiled_matches_golden(golden):
    device = torch.device("cuda")
    cotangent = golden["cotangent"].permute(2, 0, 1)[None].to(device)
    for support in SUPPORTS:
        inputs = [golden[k][None].to(device).requires_grad_() for k in ("sigmas", "coords", "colors")]
        rendered = splatting.splat(*inputs, GOLDEN_HEIGHT, GOLDEN_WIDTH, float(support))
        (rendered * cotangent).sum().backward()
        expected = golden[f"rendered_d{support}"].permute(2, 0, 1)[None]
        assert relative_error(rendered.detach().cpu(), expected) < TOLERANCE
        for label, tensor in zip(("sigmas", "coords", "colors"), inputs):
            assert relative_error(tensor.grad[0].cpu(), golden[f"grad_{label}_d{support}"]) < TOLERANCE, label


def _stderr_of(code):
    import subprocess
    import sys as _sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([_sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stderr


def test_cpp_extension_import_hides_no_cuda_notice():
    if torch.cuda.is_available():
        pytest.skip("the notice appears only on machines without CUDA")
    plain = _stderr_of("import torch.utils.cpp_extension")
    if "No CUDA runtime is found" not in plain:
        pytest.skip("this torch build does not print the no-CUDA notice")
    quiet = _stderr_of("from py_kernels.splatting.cpp import _import_cpp_extension_load as f; f()")
    assert "No CUDA runtime is found" not in quiet
