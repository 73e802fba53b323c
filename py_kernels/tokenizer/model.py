"""GPSToken: Gaussian tokens of an image, refined by a transformer, splatted, then decoded.

Pipeline (module names match the published checkpoint keys, so weights load without mapping):

1. ``preprocess_img``: conv 3->128 (``stem_c``) and two residual blocks give a full-resolution feature map.
2. ``roialign_layer``: RoIAlign (output ``rois x rois``, sampling ratio -1 = adaptive,
   ``aligned=True``, spatial scale 1 on pixel boxes) samples each token's region, then a 1x1
   conv widens stem_c -> D.
3. Each token starts as the learnt ``gps_embed`` vector plus ``gps_embed_layer`` (Linear,
   GELU, Linear) of its initial Gaussian ``(sigma_x, sigma_y, rho, x, y)``.
4. ``attnblocks``: transformer blocks that add the pooled region features, then attend.
5. Heads: ``to_gps.0`` predicts a geometry update applied in the reparameterised space
   (logit for sigma_x and sigma_y, logit of (v + 1) / 2 for rho, x, y), so a zero update
   keeps the initial Gaussian. ``to_gps.1`` predicts the texture (gps_c channels).
6. ``render``: splat every token's Gaussian times its texture on a gps_rs map; ``decoder``
   turns the map into the image.

Images larger than 256x256 are cut into T x T tiles of 256x256 in row-major order. Each
tile is partitioned and encoded on its own, in tile-local coordinates. The tiles' tokens are
then merged into one map for a single patch-folded decode (see py_kernels/decoder).

Legend: B images, T tiles per side, N tokens per tile, D transformer width, C texture
channels, K = 5 + C values per token.
"""
import torch
import torch.nn as nn
from torchvision.ops import roi_align

from ..config import TokenizerConfig
from ..decoder import Decoder, split_tiles
from ..splatting import splat
from .blocks import RegionBlock, StemBlock

GEOMETRY = 5  # sigma_x, sigma_y, rho, x, y

# Initial Gaussians are pulled this far inside their open intervals before the logit. A
# degenerate region (zero extent, or a centre on the border) then gives a finite token where
# the reference produces infinities. Ordinary partitions never come this close.
_LOGIT_MARGIN = 1e-6


class GPSToken(nn.Module):
    def __init__(self, config: TokenizerConfig, device=None):
        super().__init__()
        self.config = config
        gps = config.gps
        width = gps.gpsenc_c
        on = {"device": device}  # "meta" lists the layout of a large model without allocating it

        self.decoder = Decoder(config.decoder, device)
        self.preprocess_img = nn.Sequential(
            nn.Conv2d(3, gps.stem_c, 3, padding=1, **on),
            StemBlock(gps.stem_c, device),
            StemBlock(gps.stem_c, device),
        )
        self.roialign_layer = nn.Conv2d(gps.stem_c, width, 1, **on)
        self.gps_embed = nn.Embedding(1, width, **on)
        self.attnblocks = nn.ModuleList(
            RegionBlock(width, gps.rois ** 2, device=device) for _ in range(gps.gpsenc_n)
        )
        self.gps_embed_layer = nn.Sequential(
            nn.Linear(GEOMETRY, width, **on), nn.GELU(), nn.Linear(width, width, **on)
        )
        self.to_gps = nn.ModuleList([nn.Linear(width, GEOMETRY, **on), nn.Linear(width, gps.gps_c, **on)])

        # A fresh model starts by keeping the partition's Gaussians (zero geometry update).
        nn.init.zeros_(self.to_gps[0].weight)
        nn.init.zeros_(self.to_gps[0].bias)

    # --- encoder -------------------------------------------------------------------------

    def encode(
        self,
        image: torch.Tensor,
        init_gpscodes: torch.Tensor,
        regions: torch.Tensor,
        refine: bool = True,
    ) -> torch.Tensor:
        """Tokens of 256x256 tiles (any N per call).

        image [B, 3, H, W] in [-1, 1]; init_gpscodes [B, N, 5] rows (sigma_x, sigma_y, rho, x, y);
        regions [B, N, 4] rows (x0, y0, x1, y1) in [-1, 1]. Returns [B, N, 5 + C]: the refined
        Gaussians (or the initial ones with ``refine=False``) followed by the texture.
        """
        b, n, _ = init_gpscodes.shape
        if regions.shape[:2] != (b, n) or image.shape[0] != b:
            raise ValueError(
                f"image {tuple(image.shape)}, init_gpscodes {tuple(init_gpscodes.shape)} and "
                f"regions {tuple(regions.shape)} must share the batch and token counts"
            )
        init_gpscodes = init_gpscodes.to(image.dtype)
        roi_features = self.region_features(image, regions)  # [B*N, D, R]

        x = self.gps_embed.weight[None] + self.gps_embed_layer(init_gpscodes)  # [B, N, D]
        for block in self.attnblocks:
            x = block(x, roi_features)

        texture = self.to_gps[1](x)  # [B, N, C]
        gaussians = refine_gaussians(init_gpscodes, self.to_gps[0](x)) if refine else init_gpscodes
        return torch.cat([gaussians, texture], dim=-1)  # [B, N, 5 + C]

    def region_features(self, image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W], [B, N, 4] -> [B*N, D, rois*rois] RoIAlign features of every region."""
        features = self.preprocess_img(image)  # [B, stem_c, H, W]
        boxes = region_boxes(regions.to(features.dtype), image.shape[2], image.shape[3])  # [B*N, 5]
        rois = self.config.gps.rois
        pooled = roi_align(
            features, boxes, output_size=(rois, rois), spatial_scale=1.0, sampling_ratio=-1, aligned=True
        )  # [B*N, stem_c, rois, rois]
        return self.roialign_layer(pooled).flatten(2)  # [B*N, D, rois*rois]

    # --- renderer and decoder ------------------------------------------------------------

    def render(self, tokens: torch.Tensor, tiles: int = 1) -> torch.Tensor:
        """Splat tokens [B*T*T, N, 5 + C] (tile-local, tiles row-major per image) -> [B, C, T*h, T*w]."""
        tokens = merge_tile_tokens(tokens, tiles)  # [B, T*T*N, 5 + C]
        height, width = self.config.gps.gps_rs
        return splat(
            tokens[..., 0:3],  # [B, M, 3] sigma_x, sigma_y, rho
            tokens[..., 3:5],  # [B, M, 2] x, y
            tokens[..., 5:],  # [B, M, C] texture
            height * tiles,
            width * tiles,
            self.config.gps.gps_dmax,
        )

    def decode(self, rendered: torch.Tensor, tiles: int = 1) -> torch.Tensor:
        """Rendered map [B, C, T*h, T*w] -> image [B, 3, T*H, T*W] in about [-1, 1]."""
        return self.decoder(rendered, tiles)

    @property
    def last_layer_weight(self) -> torch.Tensor:
        """The decoder's output conv weight, for the adaptive GAN-loss weight of VQGAN-style training."""
        return self.decoder.conv_out.weight

    def forward(
        self,
        image: torch.Tensor,
        init_gpscodes: torch.Tensor,
        regions: torch.Tensor,
        tiles: int = 1,
        refine: bool = True,
    ):
        """Reconstruct whole images.

        image [B, 3, T*S, T*S] with S the tile size (256 for the published configs);
        init_gpscodes [B, T*T*N, 5] and regions [B, T*T*N, 4] are the tiles' partitions
        concatenated in row-major tile order, in tile-local coordinates.
        Returns (recon [B, 3, T*S, T*S], tokens [B, T*T*N, 5 + C]).
        """
        b = image.shape[0]
        tile_images = split_image_tiles(image, tiles)  # [B*T*T, 3, S, S]
        per_tile = init_gpscodes.shape[1] // (tiles * tiles)
        if per_tile * tiles * tiles != init_gpscodes.shape[1]:
            raise ValueError(f"{init_gpscodes.shape[1]} tokens do not split evenly over {tiles}x{tiles} tiles")
        tokens = self.encode(
            tile_images,
            init_gpscodes.reshape(b * tiles * tiles, per_tile, -1),
            regions.reshape(b * tiles * tiles, per_tile, -1),
            refine=refine,
        )  # [B*T*T, N, 5 + C]
        recon = self.decode(self.render(tokens, tiles), tiles)
        return recon, tokens.reshape(b, tiles * tiles * per_tile, -1)


def build_gpstoken(config: TokenizerConfig, device=None) -> GPSToken:
    """Build the tokenizer for ``config`` with random weights (load weights with py_kernels.checkpoints).

    ``device="meta"`` builds the structure without memory, to inspect the state-dict layout.
    """
    return GPSToken(config, device)


def refine_gaussians(init: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Apply the geometry update [B, N, 5] to the initial Gaussians [B, N, 5].

    sigma_x and sigma_y live in (0, 1) and move as sigmoid(logit(s) + d). rho, x and y live
    in (-1, 1) and move as 2 * sigmoid(logit((v + 1) / 2) + d) - 1.
    """
    m = _LOGIT_MARGIN
    sigmas = torch.sigmoid(torch.logit(init[..., 0:2].clamp(m, 1 - m)) + delta[..., 0:2])
    unit = (init[..., 2:5].clamp(-1 + m, 1 - m) + 1) / 2
    signed = 2 * torch.sigmoid(torch.logit(unit) + delta[..., 2:5]) - 1
    return torch.cat([sigmas, signed], dim=-1)


def region_boxes(regions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Regions [B, N, 4] in [-1, 1] -> RoIAlign boxes [B*N, 5] (batch index, x0, y0, x1, y1) in pixels.

    -1 and 1 map to the centres of the first and last pixels, as in the partition.
    """
    b, n, _ = regions.shape
    scale = regions.new_tensor([width - 1, height - 1, width - 1, height - 1]) / 2
    pixels = (regions + 1) * scale  # [B, N, 4]
    index = torch.arange(b, dtype=regions.dtype, device=regions.device).view(b, 1, 1).expand(b, n, 1)
    return torch.cat([index, pixels], dim=-1).reshape(b * n, 5)


def merge_tile_tokens(tokens: torch.Tensor, tiles: int) -> torch.Tensor:
    """Tile-local tokens [B*T*T, N, K] -> whole-image tokens [B, T*T*N, K].

    Tile (i, j) covers x in [-1 + 2j/T, -1 + 2(j+1)/T], so x' = -1 + (2j + x + 1) / T (and y
    with i), sigmas shrink by T, rho is unchanged. Tiles are taken batch-major: the tiles of
    image b are rows b*T*T .. b*T*T + T*T - 1, as :func:`split_image_tiles` lays them out
    (the published code agrees for one image per batch).
    """
    if tiles == 1:
        return tokens
    bt, n, k = tokens.shape
    if bt % (tiles * tiles):
        raise ValueError(f"a batch of {bt} tiles is not a whole number of {tiles}x{tiles} grids")
    grid = torch.arange(tiles * tiles, device=tokens.device).repeat(bt // (tiles * tiles))  # [B*T*T]
    row = (grid // tiles).to(tokens.dtype).view(bt, 1)
    col = (grid % tiles).to(tokens.dtype).view(bt, 1)
    merged = torch.cat(
        [
            tokens[..., 0:2] / tiles,
            tokens[..., 2:3],
            (-1 + (2 * col + tokens[..., 3] + 1) / tiles).unsqueeze(-1),
            (-1 + (2 * row + tokens[..., 4] + 1) / tiles).unsqueeze(-1),
            tokens[..., 5:],
        ],
        dim=-1,
    )  # [B*T*T, N, K]
    return merged.reshape(bt // (tiles * tiles), tiles * tiles * n, k)


def split_image_tiles(image: torch.Tensor, tiles: int) -> torch.Tensor:
    """[B, 3, T*S, T*S] -> [B*T*T, 3, S, S] in row-major tile order per image."""
    return split_tiles(image, tiles)
