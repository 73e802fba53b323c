"""Typed SiT configuration, named presets and the translation from the generator YAML."""
import dataclasses
import json
from dataclasses import dataclass
from typing import Optional, Tuple

# Published presets: (depth, hidden_size, num_heads, patch_size). The "-gs" variants are the
# token-sequence models (patch size 1 over the token axis).
PRESETS = {
    "SiT-XL/2-gs": (28, 1152, 16, 1),
    "SiT-L/2-gs": (24, 1024, 16, 1),
    "SiT-B/2-gs": (12, 768, 12, 1),
    "SiT-S/2-gs": (12, 384, 6, 1),
}


@dataclass(frozen=True)
class SiTConfig:
    input_size: Tuple[int, int] = (128, 1)  # (tokens, 1)
    patch_size: int = 1
    in_channels: int = 21  # 5 Gaussian parameters + texture channels
    hidden_size: int = 1152
    depth: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    class_dropout_prob: float = 0.1
    num_classes: int = 1000
    learn_sigma: bool = True
    cond_channels: Optional[int] = 5

    def __post_init__(self):
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        if len(self.input_size) != 2:
            raise ValueError(f"SiT input_size must be (tokens, 1), got {self.input_size}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"SiT hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")

    @property
    def tokens(self):
        return self.input_size[0] * self.input_size[1]

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, raw, source="SiT config"):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**raw)


def config_from_preset(name, *, tokens, in_channels, num_classes, cond_channels=5, **overrides):
    """Build the config of a named preset (``SiT-XL/2-gs`` ...) as the published script does."""
    if name not in PRESETS:
        raise ValueError(f"unknown SiT model {name!r}; known models are {sorted(PRESETS)}")
    depth, hidden, heads, patch = PRESETS[name]
    values = dict(
        input_size=(tokens, 1),
        patch_size=patch,
        in_channels=in_channels,
        hidden_size=hidden,
        depth=depth,
        num_heads=heads,
        num_classes=num_classes,
        cond_channels=cond_channels,
    )
    values.update(overrides)
    return SiTConfig.from_dict(values, source=f"SiT preset {name}")
