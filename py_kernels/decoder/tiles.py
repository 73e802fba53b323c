"""Moving between a whole map and its T x T grid of tiles, tiles in row-major order.

Legend: B images, T tiles per side, C channels, H x W one tile.
"""
import torch


def split_tiles(x: torch.Tensor, tiles: int) -> torch.Tensor:
    """[B, C, T*H, T*W] -> [B*T*T, C, H, W]; tile (i, j) of image b lands at b*T*T + i*T + j."""
    if tiles == 1:
        return x
    b, c, h, w = x.shape
    if h % tiles or w % tiles:
        raise ValueError(f"a {h}x{w} map does not split into {tiles}x{tiles} tiles")
    x = x.reshape(b, c, tiles, h // tiles, tiles, w // tiles)  # [B, C, T, H, T, W]
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b * tiles * tiles, c, h // tiles, w // tiles)


def merge_tiles(x: torch.Tensor, tiles: int) -> torch.Tensor:
    """[B*T*T, C, H, W] -> [B, C, T*H, T*W], the inverse of :func:`split_tiles`."""
    if tiles == 1:
        return x
    n, c, h, w = x.shape
    if n % (tiles * tiles):
        raise ValueError(f"a batch of {n} tiles is not a whole number of {tiles}x{tiles} grids")
    x = x.reshape(n // (tiles * tiles), tiles, tiles, c, h, w)  # [B, T, T, C, H, W]
    return x.permute(0, 3, 1, 4, 2, 5).reshape(-1, c, tiles * h, tiles * w)
