"""Pure-torch tiled splatting for CPU and CUDA: each map tile evaluates only the Gaussians whose
support box reaches it.

Legend: B batch, N Gaussians per image, C channels, H x W the map, T the tile side, K tiles in a
chunk of tile rows, M the longest per-tile Gaussian list in that chunk (shorter lists are
padded with a masked entry), P = T * T pixels of a tile.

Forward and backward walk the same per-tile lists. Nothing of size [B, N, H, W] is ever built:
the largest tensors are [B, K, M, P] for one chunk of tile rows, and the chunk is sized so such
a tensor stays under ``CHUNK_ELEMENTS`` elements (one tile row is always taken, even if larger).
Backward recomputes the weights instead of saving them, so the graph keeps only the inputs.
"""
import contextlib

import torch

from .common import check_inputs

TILE = 8
CHUNK_ELEMENTS = 1 << 22


def support_boxes(sigmas, coords, height, width, support):
    """Return conservative [B, N] pixel index bounds (row_lo, row_hi, col_lo, col_hi) of each support.

    The bounds are widened by one pixel; the exact inclusive test happens per pixel. A Gaussian
    with a NaN or negative sigma, or a NaN centre, gets an empty box because it draws nothing.
    """
    def axis_bounds(centre, sigma, size):
        half = support * sigma.double()  # [B, N]
        scale = 0.5 * (size - 1)
        lo = torch.floor((centre.double() - half + 1.0) * scale) - 1
        hi = torch.ceil((centre.double() + half + 1.0) * scale) + 1
        drawable = (half >= 0) & ~torch.isnan(centre)
        lo = torch.where(drawable, lo.clamp(-1, size).nan_to_num(nan=size), torch.full_like(lo, size))
        hi = torch.where(drawable, hi.clamp(-1, size).nan_to_num(nan=-1), torch.full_like(hi, -1))
        return lo.long(), hi.long()

    row_lo, row_hi = axis_bounds(coords[..., 1], sigmas[..., 1], height)
    col_lo, col_hi = axis_bounds(coords[..., 0], sigmas[..., 0], width)
    return row_lo, row_hi, col_lo, col_hi


def plan_chunks(boxes, height, width, tile):
    """Yield (tile_row_first, tile_row_end, lists [B, K, M], valid [B, K, M]) per chunk of tile rows.

    ``lists`` holds Gaussian indices into N; entries where ``valid`` is False are padding.
    """
    row_lo, row_hi, col_lo, col_hi = boxes
    batch, count = row_lo.shape
    tiles_y = -(-height // tile)
    tiles_x = -(-width // tile)
    starts_y = torch.arange(tiles_y, device=row_lo.device) * tile  # [Ty]
    starts_x = torch.arange(tiles_x, device=row_lo.device) * tile  # [Tx]
    hits_y = (row_lo[..., None] <= starts_y + tile - 1) & (row_hi[..., None] >= starts_y)  # [B, N, Ty]
    hits_x = (col_lo[..., None] <= starts_x + tile - 1) & (col_hi[..., None] >= starts_x)  # [B, N, Tx]
    longest_per_row = (hits_y[..., :, None] & hits_x[..., None, :]).sum(1).amax(dim=(0, 2))  # [Ty]
    longest_per_row = [max(1, int(m)) for m in longest_per_row.tolist()]

    first = 0
    while first < tiles_y:
        end = first + 1
        longest = longest_per_row[first]
        while end < tiles_y:
            candidate = max(longest, longest_per_row[end])
            if batch * (end + 1 - first) * tiles_x * candidate * tile * tile > CHUNK_ELEMENTS:
                break
            longest = candidate
            end += 1
        hits = hits_y[..., first:end, None] & hits_x[..., None, :]  # [B, N, Ty', Tx]
        hits = hits.reshape(batch, count, -1).transpose(1, 2)  # [B, K, N]
        # Sorting the hit flags puts each tile's Gaussians first; the rest become padding.
        order = torch.sort(hits.to(torch.uint8), dim=2, descending=True, stable=True).indices
        lists = order[..., :longest]  # [B, K, M]
        valid = torch.gather(hits, 2, lists)  # [B, K, M]
        yield first, end, lists, valid
        first = end


def gather_rows(values, lists):
    """Gather [B, N, F] rows along N for the [B, K, M] lists, giving [B, K, M, F]."""
    batch, tiles, longest = lists.shape
    index = lists.reshape(batch, tiles * longest, 1).expand(-1, -1, values.shape[-1])
    return torch.gather(values, 1, index).reshape(batch, tiles, longest, values.shape[-1])


def tile_offsets(params, valid, ys, xs, first, end, tiles_x, tile, support):
    """Return ux, uy, rho, inside for a chunk: offsets in sigma units [B, K, M, T, T] and the mask.

    ``params`` [B, K, M, 5] holds (sigma_x, sigma_y, rho, x, y); ``ys`` and ``xs`` are the padded
    pixel axes. Offsets outside the support are zero, as in the dense version.
    """
    rows = ys[first * tile:end * tile].reshape(end - first, 1, tile, 1)  # [Ty', 1, T, 1]
    cols = xs.reshape(1, tiles_x, 1, tile)  # [1, Tx, 1, T]
    rows = rows.expand(-1, tiles_x, -1, -1).reshape(1, -1, 1, tile, 1)  # [1, K, 1, T, 1]
    cols = cols.expand(end - first, -1, -1, -1).reshape(1, -1, 1, 1, tile)  # [1, K, 1, 1, T]

    sigma_x, sigma_y, rho, centre_x, centre_y = (params[..., k, None, None] for k in range(5))
    dx = cols - centre_x  # [B, K, M, 1, T]
    dy = rows - centre_y  # [B, K, M, T, 1]
    inside = (dx.abs() <= support * sigma_x) & (dy.abs() <= support * sigma_y)
    inside = inside & valid[..., None, None]  # [B, K, M, T, T]
    zero = torch.zeros((), dtype=dx.dtype, device=dx.device)
    ux = torch.where(inside, dx, zero) / sigma_x
    uy = torch.where(inside, dy, zero) / sigma_y
    return ux, uy, rho, inside


def gaussian_weight(ux, uy, rho, inside):
    """Return the Gaussian weights [B, K, M, T, T] and the quadratic form q."""
    q = ux * ux - 2.0 * rho * ux * uy + uy * uy
    weight = torch.exp(-0.5 * q / (1.0 - rho * rho))
    return torch.where(inside, weight, torch.zeros_like(weight)), q


class _Layout:
    """Padded pixel axes and tile counts of one render."""

    def __init__(self, height, width, tile, dtype, device):
        self.tile = tile
        self.tiles_y = -(-height // tile)
        self.tiles_x = -(-width // tile)
        self.ys = _padded_axis(height, self.tiles_y * tile, dtype, device)
        self.xs = _padded_axis(width, self.tiles_x * tile, dtype, device)


def _padded_axis(size, padded, dtype, device):
    # The grid formula continued past the map: those pixels are cropped after rendering and
    # get a zero cotangent in backward, but finite positions keep NaN out of the sums.
    axis = torch.arange(padded, dtype=torch.float64, device=device) * 2.0 / (size - 1) - 1.0
    return axis.to(dtype)


def render_tiles(sigmas, coords, colors, height, width, support, tile):
    """Forward pass: return the rendered map [B, C, H, W]."""
    batch, count, channels = colors.shape
    layout = _Layout(height, width, tile, colors.dtype, colors.device)
    params = torch.cat([sigmas, coords], dim=-1)  # [B, N, 5]
    boxes = support_boxes(sigmas, coords, height, width, support)

    bands = []
    for first, end, lists, valid in plan_chunks(boxes, height, width, tile):
        tiles = lists.shape[1]
        offsets = tile_offsets(gather_rows(params, lists), valid, layout.ys, layout.xs,
                               first, end, layout.tiles_x, tile, support)
        weight, _ = gaussian_weight(*offsets)  # [B, K, M, T, T]
        weight = weight.reshape(batch * tiles, -1, tile * tile)  # [B K, M, P]
        tile_colors = gather_rows(colors, lists).reshape(batch * tiles, -1, channels)  # [B K, M, C]
        band = torch.bmm(tile_colors.transpose(1, 2), weight)  # [B K, C, P]
        band = band.reshape(batch, end - first, layout.tiles_x, channels, tile, tile)
        bands.append(band.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, (end - first) * tile, -1))
    return torch.cat(bands, dim=2)[:, :, :height, :width].contiguous()


def render_tiles_backward(sigmas, coords, colors, grad_output, support, tile):
    """Backward pass: return the gradients for sigmas, coords and colors, each [B, N, *]."""
    batch, count, channels = colors.shape
    height, width = grad_output.shape[-2:]
    layout = _Layout(height, width, tile, colors.dtype, colors.device)
    pad = (0, layout.tiles_x * tile - width, 0, layout.tiles_y * tile - height)
    grad_map = torch.nn.functional.pad(grad_output, pad)  # [B, C, Hp, Wp]
    params = torch.cat([sigmas, coords], dim=-1)  # [B, N, 5]
    boxes = support_boxes(sigmas, coords, height, width, support)

    # Per Gaussian: the color gradient [C] and six pixel sums that the closed-form derivatives
    # below need, accumulated over all tiles it touches.
    sums = torch.zeros(batch * count, channels + 6, dtype=colors.dtype, device=colors.device)
    for first, end, lists, valid in plan_chunks(boxes, height, width, tile):
        tiles = lists.shape[1]
        ux, uy, rho, inside = tile_offsets(gather_rows(params, lists), valid, layout.ys, layout.xs,
                                           first, end, layout.tiles_x, tile, support)
        weight, q = gaussian_weight(ux, uy, rho, inside)  # [B, K, M, T, T]

        band = grad_map[:, :, first * tile:end * tile]  # [B, C, Ty' T, Tx T]
        band = band.reshape(batch, channels, end - first, tile, layout.tiles_x, tile)
        band = band.permute(0, 2, 4, 1, 3, 5).reshape(batch * tiles, channels, tile * tile)  # [B K, C, P]
        tile_colors = gather_rows(colors, lists).reshape(batch * tiles, -1, channels)  # [B K, M, C]
        flat_weight = weight.reshape(batch * tiles, -1, tile * tile)  # [B K, M, P]
        grad_colors = torch.bmm(flat_weight, band.transpose(1, 2))  # [B K, M, C]
        projected = torch.bmm(tile_colors, band).reshape(weight.shape)  # [B, K, M, T, T]

        weighted = projected * weight
        along_x = weighted * (ux - rho * uy)
        along_y = weighted * (uy - rho * ux)
        pixel_sums = torch.stack([
            along_x.sum(dim=(-2, -1)),
            (along_x * ux).sum(dim=(-2, -1)),
            along_y.sum(dim=(-2, -1)),
            (along_y * uy).sum(dim=(-2, -1)),
            (weighted * ux * uy).sum(dim=(-2, -1)),
            (weighted * q).sum(dim=(-2, -1)),
        ], dim=-1)  # [B, K, M, 6]
        contributions = torch.cat([grad_colors.reshape(batch, tiles, -1, channels), pixel_sums], dim=-1)
        contributions = contributions * valid[..., None]
        owners = (lists + torch.arange(batch, device=lists.device).view(batch, 1, 1) * count).reshape(-1)
        sums.index_add_(0, owners, contributions.reshape(-1, channels + 6))

    return closed_form_gradients(sums.reshape(batch, count, -1), sigmas, channels)


def closed_form_gradients(sums, sigmas, channels):
    """Turn the per-Gaussian pixel sums into gradients.

    With v a pixel's weight, a = 1 / (1 - rho^2) and g the cotangent projected on the color:
    dv/dx = a v (ux - rho uy) / sigma_x, dv/dsigma_x = a v (ux - rho uy) ux / sigma_x (the same
    in y), dv/drho = a v (ux uy - rho a q).
    """
    grad_colors = sums[..., :channels]
    sum_x, sum_xux, sum_y, sum_yuy, sum_uxuy, sum_q = sums[..., channels:].unbind(-1)
    sigma_x, sigma_y, rho = sigmas.unbind(-1)
    a = 1.0 / (1.0 - rho * rho)
    grad_coords = torch.stack([a * sum_x / sigma_x, a * sum_y / sigma_y], dim=-1)
    grad_sigmas = torch.stack([
        a * sum_xux / sigma_x,
        a * sum_yuy / sigma_y,
        a * sum_uxuy - rho * a * a * sum_q,
    ], dim=-1)
    return grad_sigmas, grad_coords, grad_colors


def _full_precision(device):
    """Disable autocast, which would run the bmm calls in float16 inside a mixed-precision step."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


class _SplatTiled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sigmas, coords, colors, height, width, support, tile):
        ctx.save_for_backward(sigmas, coords, colors)
        ctx.support = support
        ctx.tile = tile
        with _full_precision(colors.device):
            return render_tiles(sigmas, coords, colors, height, width, support, tile)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        sigmas, coords, colors = ctx.saved_tensors
        with _full_precision(colors.device):
            grads = render_tiles_backward(sigmas, coords, colors, grad_output, ctx.support, ctx.tile)
        return grads + (None, None, None, None)


def splat_tiled(sigmas, coords, colors, height, width, support=3.0, tile=TILE):
    """Render with the pure-torch tiled implementation (CPU or CUDA); same result as splat_dense."""
    check_inputs(sigmas, coords, colors, height, width, support)
    if int(tile) != tile or tile < 1:
        raise ValueError(f"tile must be a positive integer; got {tile}")
    return _SplatTiled.apply(sigmas, coords, colors, int(height), int(width), float(support), int(tile))
