"""LPIPS v0.1 with the VGG16 backbone (Zhang et al. 2018), from local weight files only.

Backbone: torchvision's ``vgg16`` ``features`` (``vgg16-397923af.pth``), cut after relu1_2,
relu2_2, relu3_3, relu4_3 and relu5_3. Linear layers: the LPIPS v0.1 ``vgg.pth`` file with
keys ``lin{0..4}.model.1.weight`` of shape ``[1, C, 1, 1]``. Inputs are RGB in [-1, 1],
shifted and scaled by the LPIPS constants before the backbone. Per layer the features are
unit-normalised over channels (eps 1e-10), squared differences are weighted by the linear
layer, averaged over pixels, and the five layers are summed.
"""
import torch
from torch import nn

VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"
VGG16_SHA256_PREFIX = "397923af"
LPIPS_WEIGHTS_FILE = "vgg.pth"
LAYER_CHANNELS = (64, 128, 256, 512, 512)
# Indices into torchvision's vgg16().features after which each slice ends (a ReLU).
SLICE_ENDS = (4, 9, 16, 23, 30)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
MIN_SIDE = 16


# torchvision's VGG16 configuration "D": channel counts, "M" for a 2x2 max pool.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16_features():
    """Return layers indexed exactly like torchvision's ``vgg16().features``.

    Built here so the 120M-parameter classifier is never allocated.
    """
    layers = []
    channels = 3
    for item in VGG16_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = item
    return nn.Sequential(*layers)


class LinearLayer(nn.Module):
    """Non-negative 1x1 channel weights; ``model.1`` matches the published key names."""

    def __init__(self, channels):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x):
        return self.model(x)


class LPIPS(nn.Module):
    def __init__(self):
        super().__init__()
        features = vgg16_features()
        self.slices = nn.ModuleList()
        start = 0
        for end in SLICE_ENDS:
            self.slices.append(nn.Sequential(*[features[i] for i in range(start, end)]))
            start = end
        self.lins = nn.ModuleList([LinearLayer(c) for c in LAYER_CHANNELS])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def load_backbone(self, vgg_state):
        """Load the ``features.*`` tensors of a torchvision VGG16 state dict (classifier ignored)."""
        expected = {}
        for slice_index, (start, end) in enumerate(zip((0,) + SLICE_ENDS[:-1], SLICE_ENDS)):
            for i in range(start, end):
                for name in ("weight", "bias"):
                    key = f"features.{i}.{name}"
                    if key in vgg_state:
                        expected[f"{slice_index}.{i - start}.{name}"] = vgg_state[key]
        missing = set(self.slices.state_dict()) - set(expected)
        if missing:
            raise ValueError(f"VGG16 state dict lacks {len(missing)} backbone tensors, e.g. {sorted(missing)[:3]}")
        self.slices.load_state_dict(expected, strict=True)

    def load_linear(self, lin_state):
        """Load ``lin{k}.model.1.weight`` tensors of the LPIPS v0.1 file."""
        renamed = {key.replace("lin", "", 1): value for key, value in lin_state.items() if key.startswith("lin")}
        self.lins.load_state_dict(renamed, strict=True)

    def forward(self, real, fake):
        """Return ``[B]`` distances between two ``[B, 3, H, W]`` batches in [-1, 1]."""
        x = (real - self.shift) / self.scale
        y = (fake - self.shift) / self.scale
        total = 0
        for block, lin in zip(self.slices, self.lins):
            x = block(x)
            y = block(y)
            nx = x / (torch.sqrt((x * x).sum(dim=1, keepdim=True)) + 1e-10)
            ny = y / (torch.sqrt((y * y).sum(dim=1, keepdim=True)) + 1e-10)
            total = total + lin((nx - ny) ** 2).mean(dim=(2, 3))  # [B, 1]
        return total[:, 0]


def load_lpips(vgg_path, lin_path, device="cpu"):
    """Return ``(model, {"vgg16": sha256, "lpips": sha256})`` built from two local files."""
    from py_kernels.metrics.weights import load_state_dict

    vgg_state, vgg_digest = load_state_dict(vgg_path, VGG16_SHA256_PREFIX, what="VGG16 weights for LPIPS")
    lin_state, lin_digest = load_state_dict(lin_path, None, what="LPIPS v0.1 linear layers")
    model = LPIPS()
    model.load_backbone(vgg_state)
    model.load_linear(lin_state)
    return model.eval().to(device), {"vgg16": vgg_digest, "lpips": lin_digest}
