"""Pure-torch tiled splatting for CPU and CUDA: each map tile evaluates only the Gaussians whose
support box reaches it.

Legend: B batch, N Gaussians per image, C channels, H x W the map, T the tile side, P = T * T
pixels of a tile. An item is one tile of one image (B * Ty * Tx items). Items are sorted by the
length of their Gaussian list and packed into groups of G items whose lists are padded to the
group's longest, M. A group's shortest list is at least ``PACKING_RATIO`` of M, so little work
goes to padding even when small Gaussians crowd into a few tiles.

Forward and backward walk the same groups. Nothing of size [B, N, H, W] is ever built: the
largest tensors are [G, M, T, T], with G * M * P capped at ``GROUP_ELEMENTS`` for the device
type (a single item is always taken, even if larger). Backward holds about eight such tensors
at once, so the CPU cap keeps that near 32 MiB in float32; CUDA gets larger groups because
each group costs kernel launches. Backward recomputes the weights instead of saving them.
"""
import contextlib

import torch

from .common import check_inputs

TILE = 8
GROUP_ELEMENTS = {"cpu": 1 << 20, "cuda": 1 << 23}
PACKING_RATIO = 0.6


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


class TilePlan:
    """Per-tile Gaussian lists, packed into groups of items with similar list lengths."""

    def __init__(self, sigmas, coords, height, width, support, tile):
        batch, count = sigmas.shape[:2]
        device = sigmas.device
        self.tile = tile
        self.count = count
        self.tiles_y = -(-height // tile)
        self.tiles_x = -(-width // tile)
        self.items = batch * self.tiles_y * self.tiles_x

        row_lo, row_hi, col_lo, col_hi = support_boxes(sigmas, coords, height, width, support)
        starts_y = torch.arange(self.tiles_y, device=device) * tile  # [Ty]
        starts_x = torch.arange(self.tiles_x, device=device) * tile  # [Tx]
        hits_y = (row_lo[..., None] <= starts_y + tile - 1) & (row_hi[..., None] >= starts_y)  # [B, N, Ty]
        hits_x = (col_lo[..., None] <= starts_x + tile - 1) & (col_hi[..., None] >= starts_x)  # [B, N, Tx]
        hits = hits_y[..., :, None] & hits_x[..., None, :]  # [B, N, Ty, Tx]
        self.hits = hits.permute(0, 2, 3, 1).reshape(self.items, count)  # [items, N]

        lengths, order = torch.sort(self.hits.sum(dim=1), descending=True)
        self.order = order  # [items], longest list first
        self.groups = _pack(lengths.tolist(), tile * tile, GROUP_ELEMENTS.get(device.type, GROUP_ELEMENTS["cpu"]))

    def __iter__(self):
        """Yield (items [G], owners [G, M] flat indices into B * N, valid [G, M]) per group."""
        for first, end, longest in self.groups:
            items = self.order[first:end]
            # Sorting the hit flags puts each item's Gaussians first; the rest become padding.
            flags = self.hits[items].to(torch.uint8)  # [G, N]
            lists = torch.sort(flags, dim=1, descending=True, stable=True).indices[:, :longest]
            valid = torch.gather(flags, 1, lists).bool()  # [G, M]
            images = torch.div(items, self.tiles_y * self.tiles_x, rounding_mode="floor")
            yield items, lists + images[:, None] * self.count, valid


def _pack(lengths, pixels, budget):
    """Split the descending list lengths into groups (first, end, longest); empty items are dropped."""
    groups = []
    first = 0
    while first < len(lengths) and lengths[first] > 0:
        longest = lengths[first]
        end = first + 1
        while (end < len(lengths) and lengths[end] >= PACKING_RATIO * longest and lengths[end] > 0
               and (end + 1 - first) * longest * pixels <= budget):
            end += 1
        groups.append((first, end, longest))
        first = end
    return groups


class GroupGeometry:
    """Offsets of a group's pixels from its Gaussians, in sigma units, and the Gaussian weights.

    ``ux`` [G, M, T] runs along the tile's columns and ``uy`` [G, M, T] along its rows; both are
    zero outside the support. The weight follows the dense version's operation order, so the
    two agree to the last bit or nearly.
    """

    def __init__(self, params, valid, rows, cols, support):
        sigma_x, sigma_y, rho, centre_x, centre_y = (params[..., k, None] for k in range(5))  # [G, M, 1]
        dx = cols[:, None, :] - centre_x  # [G, M, T]
        dy = rows[:, None, :] - centre_y  # [G, M, T]
        inside_x = (dx.abs() <= support * sigma_x) & valid[..., None]
        inside_y = (dy.abs() <= support * sigma_y) & valid[..., None]
        zero = torch.zeros((), dtype=dx.dtype, device=dx.device)
        self.ux = torch.where(inside_x, dx, zero) / sigma_x  # [G, M, T]
        self.uy = torch.where(inside_y, dy, zero) / sigma_y  # [G, M, T]
        self.rho = rho  # [G, M, 1]

        cross = (2.0 * rho * self.ux)[..., None, :] * self.uy[..., :, None]  # [G, M, T, T]
        self.q = ((self.ux * self.ux)[..., None, :] - cross) + (self.uy * self.uy)[..., :, None]
        weight = torch.exp(-0.5 * self.q / (1.0 - rho * rho)[..., None])  # [G, M, T, T]
        inside = inside_y[..., :, None] & inside_x[..., None, :]
        self.weight = torch.where(inside, weight, zero)


class _Layout:
    """Pixel positions of a render, padded to whole tiles and cut into [tiles, T] rows."""

    def __init__(self, plan, height, width, dtype, device):
        tile = plan.tile
        self.plan = plan
        self.rows = _padded_axis(height, plan.tiles_y * tile, dtype, device).view(plan.tiles_y, tile)
        self.cols = _padded_axis(width, plan.tiles_x * tile, dtype, device).view(plan.tiles_x, tile)

    def geometry(self, params, items, owners, valid, support):
        tiles = self.plan.tiles_y * self.plan.tiles_x
        tile_index = items % tiles
        rows = self.rows[torch.div(tile_index, self.plan.tiles_x, rounding_mode="floor")]  # [G, T]
        cols = self.cols[tile_index % self.plan.tiles_x]  # [G, T]
        return GroupGeometry(params[owners], valid, rows, cols, support)


def _padded_axis(size, padded, dtype, device):
    # The grid formula continued past the map: those pixels are cropped after rendering and
    # get a zero cotangent in backward, but finite positions keep NaN out of the sums.
    axis = torch.arange(padded, dtype=torch.float64, device=device) * 2.0 / (size - 1) - 1.0
    return axis.to(dtype)


def to_items(image_map, plan):
    """Cut [B, C, Hp, Wp] into [items, C, P] tiles."""
    batch, channels = image_map.shape[:2]
    tile = plan.tile
    tiles = image_map.reshape(batch, channels, plan.tiles_y, tile, plan.tiles_x, tile)
    return tiles.permute(0, 2, 4, 1, 3, 5).reshape(plan.items, channels, tile * tile)


def from_items(items, plan, batch):
    """Stitch [items, C, P] tiles back into a [B, C, Hp, Wp] map."""
    channels = items.shape[1]
    tile = plan.tile
    tiles = items.reshape(batch, plan.tiles_y, plan.tiles_x, channels, tile, tile)
    return tiles.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, plan.tiles_y * tile, plan.tiles_x * tile)


def render_tiles(plan, sigmas, coords, colors, height, width, support):
    """Forward pass: return the rendered map [B, C, H, W]."""
    batch, count, channels = colors.shape
    layout = _Layout(plan, height, width, colors.dtype, colors.device)
    params = torch.cat([sigmas, coords], dim=-1).reshape(batch * count, 5)  # [B N, 5]
    flat_colors = colors.reshape(batch * count, channels)  # [B N, C]
    tile_pixels = plan.tile * plan.tile

    rendered = colors.new_zeros(plan.items, channels, tile_pixels)  # [items, C, P]
    for items, owners, valid in plan:
        geometry = layout.geometry(params, items, owners, valid, support)
        weight = geometry.weight.reshape(len(items), -1, tile_pixels)  # [G, M, P]
        rendered[items] = torch.bmm(flat_colors[owners].transpose(1, 2), weight)  # [G, C, P]
    return from_items(rendered, plan, batch)[:, :, :height, :width].contiguous()


def render_tiles_backward(plan, sigmas, coords, colors, grad_output, support):
    """Backward pass: return the gradients for sigmas, coords and colors, each [B, N, *]."""
    batch, count, channels = colors.shape
    height, width = grad_output.shape[-2:]
    tile = plan.tile
    layout = _Layout(plan, height, width, colors.dtype, colors.device)
    pad = (0, plan.tiles_x * tile - width, 0, plan.tiles_y * tile - height)
    grad_items = to_items(torch.nn.functional.pad(grad_output, pad), plan)  # [items, C, P]
    params = torch.cat([sigmas, coords], dim=-1).reshape(batch * count, 5)  # [B N, 5]
    flat_colors = colors.reshape(batch * count, channels)  # [B N, C]

    # Per Gaussian: the color gradient [C] and pixel sums of gv, gv ux, gv uy, gv ux^2, gv uy^2,
    # gv ux uy and gv q (gv = weight x cotangent projected on the color), over all its tiles.
    sums = colors.new_zeros(batch * count, channels + 6)
    for items, owners, valid in plan:
        geometry = layout.geometry(params, items, owners, valid, support)
        ux, uy = geometry.ux, geometry.uy  # [G, M, T]
        weight = geometry.weight.reshape(len(items), -1, tile * tile)  # [G, M, P]
        grad_tiles = grad_items[items]  # [G, C, P]
        grad_colors = torch.bmm(weight, grad_tiles.transpose(1, 2))  # [G, M, C]
        projected = torch.bmm(flat_colors[owners], grad_tiles)  # [G, M, P]

        gv = (projected * weight).reshape(geometry.weight.shape)  # [G, M, T, T]
        along_cols = gv.sum(dim=-2)  # [G, M, T] summed over rows
        along_rows = gv.sum(dim=-1)  # [G, M, T] summed over columns
        pixel_sums = torch.stack([
            (along_cols * ux).sum(dim=-1),
            (along_rows * uy).sum(dim=-1),
            (along_cols * ux * ux).sum(dim=-1),
            (along_rows * uy * uy).sum(dim=-1),
            ((gv * ux[..., None, :]).sum(dim=-1) * uy).sum(dim=-1),
            (gv * geometry.q).sum(dim=(-2, -1)),
        ], dim=-1)  # [G, M, 6]
        contributions = torch.cat([grad_colors, pixel_sums], dim=-1) * valid[..., None]
        sums.index_add_(0, owners.reshape(-1), contributions.reshape(-1, channels + 6))

    return closed_form_gradients(sums.reshape(batch, count, channels + 6), sigmas, channels)


def closed_form_gradients(sums, sigmas, channels):
    """Turn the per-Gaussian pixel sums into gradients.

    With v a pixel's weight, a = 1 / (1 - rho^2) and g the cotangent projected on the color:
    dv/dx = a v (ux - rho uy) / sigma_x, dv/dsigma_x = a v (ux - rho uy) ux / sigma_x (the same
    in y), dv/drho = a v (ux uy - rho a q).
    """
    grad_colors = sums[..., :channels]
    s_ux, s_uy, s_ux2, s_uy2, s_uxuy, s_q = sums[..., channels:].unbind(-1)
    sigma_x, sigma_y, rho = sigmas.unbind(-1)
    a = 1.0 / (1.0 - rho * rho)
    grad_coords = torch.stack([
        a * (s_ux - rho * s_uy) / sigma_x,
        a * (s_uy - rho * s_ux) / sigma_y,
    ], dim=-1)
    grad_sigmas = torch.stack([
        a * (s_ux2 - rho * s_uxuy) / sigma_x,
        a * (s_uy2 - rho * s_uxuy) / sigma_y,
        a * s_uxuy - rho * a * a * s_q,
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
        with _full_precision(colors.device):
            plan = TilePlan(sigmas, coords, height, width, support, tile)
            rendered = render_tiles(plan, sigmas, coords, colors, height, width, support)
        ctx.save_for_backward(sigmas, coords, colors)
        ctx.plan = plan
        ctx.support = support
        return rendered

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        sigmas, coords, colors = ctx.saved_tensors
        with _full_precision(colors.device):
            grads = render_tiles_backward(ctx.plan, sigmas, coords, colors, grad_output, ctx.support)
        return grads + (None, None, None, None)


def splat_tiled(sigmas, coords, colors, height, width, support=3.0, tile=TILE):
    """Render with the pure-torch tiled implementation (CPU or CUDA); same result as splat_dense."""
    check_inputs(sigmas, coords, colors, height, width, support)
    if int(tile) != tile or tile < 1:
        raise ValueError(f"tile must be a positive integer; got {tile}")
    return _SplatTiled.apply(sigmas, coords, colors, int(height), int(width), float(support), int(tile))
