"""PatchGAN discriminator (the Pix2Pix ``NLayerDiscriminator`` that taming-transformers and the
published GPSToken training use), with the same layer order and initialisation.

Layout for ``n_layers = 3`` and ``ndf = 64``: conv 4x4 stride 2 (3 -> 64) + LeakyReLU(0.2);
two conv 4x4 stride 2 blocks (64 -> 128 -> 256) with BatchNorm; one conv 4x4 stride 1 block
(256 -> 512) with BatchNorm; a final conv 4x4 stride 1 to one logit per patch. Convolutions
followed by BatchNorm have no bias. A 64x64 input gives [B, 1, 6, 6] logits.
"""
import torch
from torch import nn


def init_discriminator_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolution weights, N(1, 0.02) BatchNorm scales, zero BatchNorm shifts."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.constant_(module.bias, 0.0)


class NLayerDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        use_norm = norm == "batch"

        def block(c_in, c_out, stride):
            layers = [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=not use_norm)]
            if use_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
            return layers

        layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2 ** n, 8)
            layers += block(ndf * previous, ndf * mult, 2)
        previous, mult = mult, min(2 ** n_layers, 8)
        layers += block(ndf * previous, ndf * mult, 1)
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*layers)
        self.apply(init_discriminator_weights)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.main(image)  # [B, 1, h, w] patch logits


class RealFakeLogits(nn.Module):
    """Both discriminator passes of a discriminator step in one forward.

    Under DistributedDataParallel each forward broadcasts the BatchNorm buffers in place.
    Two separate DDP forwards would change the running statistics that the first pass
    saved for backward, so both passes go through one forward, as in the published code.
    """

    def __init__(self, discriminator: NLayerDiscriminator):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        return self.discriminator(real), self.discriminator(fake)  # [B, 1, h, w] each
