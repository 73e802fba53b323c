"""Tile bookkeeping and the tile-aware norm of the decoder."""
import pytest
import torch

from py_kernels.decoder import TileNorm, merge_tiles, split_tiles
from py_kernels.tokenizer import merge_tile_tokens, refine_gaussians, region_boxes


def test_split_then_merge_is_identity():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    tiles = split_tiles(x, 2)  # [8, 3, 4, 4]
    assert tiles.shape == (8, 3, 4, 4)
    assert torch.equal(tiles[1], x[0, :, :4, 4:])  # image 0, tile (row 0, column 1)
    assert torch.equal(tiles[6], x[1, :, 4:, :4])  # image 1, tile (row 1, column 0)
    assert torch.equal(merge_tiles(tiles, 2), x)


def test_split_rejects_uneven_maps():
    with pytest.raises(ValueError) as error:
        split_tiles(torch.zeros(1, 1, 6, 8), 4)
    assert str(error.value) == "a 6x8 map does not split into 4x4 tiles"


def test_tile_norm_with_one_tile_is_group_norm():
    torch.manual_seed(0)
    norm = TileNorm(64)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    reference = torch.nn.GroupNorm(32, 64, eps=1e-6)
    reference.load_state_dict(norm.state_dict())
    x = torch.randn(2, 64, 8, 8) * 3 + 1
    # The published norm divides by std + eps instead of sqrt(var + eps): equal up to ~eps / std.
    assert float((norm(x) - reference(x)).abs().max()) < 1e-5


def test_tile_norm_with_equal_tiles_matches_one_tile():
    norm = TileNorm(32)
    tile = torch.randn(1, 32, 4, 4)
    whole = merge_tiles(tile.repeat(4, 1, 1, 1), 2)  # [1, 32, 8, 8], four identical tiles
    expected = merge_tiles(norm(tile).repeat(4, 1, 1, 1), 2)
    assert float((norm(whole, tiles=2) - expected).abs().max()) < 1e-5


def test_merge_tile_tokens_moves_centres_into_tiles():
    token = torch.tensor([0.3, 0.2, 0.1, 0.0, 0.0, 7.0])  # a centred Gaussian with one texture value
    tokens = token.repeat(4, 1, 1)  # [4 tiles, 1, 6]
    merged = merge_tile_tokens(tokens, 2)  # [1, 4, 6]
    expected = torch.tensor(
        [
            [0.15, 0.1, 0.1, -0.5, -0.5, 7.0],
            [0.15, 0.1, 0.1, 0.5, -0.5, 7.0],
            [0.15, 0.1, 0.1, -0.5, 0.5, 7.0],
            [0.15, 0.1, 0.1, 0.5, 0.5, 7.0],
        ]
    )
    assert torch.allclose(merged[0], expected)


def test_zero_update_keeps_the_gaussians():
    init = torch.tensor([[[0.2, 0.5, -0.3, 0.9, -0.99]]])
    assert torch.allclose(refine_gaussians(init, torch.zeros_like(init)), init, atol=1e-6)


def test_degenerate_gaussians_stay_finite():
    init = torch.tensor([[[0.0, 1.0, 0.0, -1.0, 1.0]]])
    assert torch.isfinite(refine_gaussians(init, torch.ones_like(init))).all()


def test_region_boxes_map_to_pixel_centres():
    regions = torch.tensor([[[-1.0, -1.0, 1.0, 1.0]], [[0.0, -1.0, 1.0, 0.0]]])  # [2, 1, 4]
    boxes = region_boxes(regions, height=5, width=9)
    assert torch.equal(boxes, torch.tensor([[0.0, 0.0, 0.0, 8.0, 4.0], [1.0, 4.0, 0.0, 8.0, 2.0]]))
