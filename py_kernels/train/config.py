"""Typed training config: the ``train``, ``loss`` and ``data`` sections of a tokenizer YAML.

Key names follow the published tokenizer configs (``gpstoken_m128.yaml`` and friends), so
those files load unchanged. Keys the published files lack (Adam betas, EMA schedule, pixel
loss type, discriminator depth) default to what the published training script used. The ``model`` section is parsed by :mod:`py_kernels.config`. Unknown keys, wrong types
and inconsistent values raise :class:`ConfigError` naming the file and the key.
"""
import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Tuple

import yaml

from py_kernels.config import ConfigError, TokenizerConfig, config_from_dict

__all__ = ["ConfigError", "TrainSection", "PixelLoss", "PerceptualLoss", "DiscriminatorLoss",
           "LossSection", "DataParams", "DataSection", "TrainConfig", "load_train_config",
           "train_config_from_dict"]


@dataclass(frozen=True)
class TrainSection:
    """Optimiser, schedule and bookkeeping (the published ``train`` section plus defaults)."""

    lr: float = 5.0e-5
    batch_size: int = 16  # per rank, as in the published script (one process per GPU)
    grad_accumulation: int = 1
    iterations: int = 1_000_000  # optimiser steps
    log_interval: int = 100
    save_interval: int = 50_000
    eval_interval: int = 5_000
    betas: Tuple[float, ...] = (0.5, 0.9)  # Adam betas of the published script
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # max gradient norm; 0 turns clipping off (the published script has none)
    seed: int = 23  # the published script's default
    # EMA schedule of the `ema_pytorch` defaults the published script relies on.
    ema_beta: float = 0.9999
    ema_update_after_step: int = 100
    ema_update_every: int = 10
    ema_inv_gamma: float = 1.0
    ema_power: float = 2.0 / 3.0
    keep_checkpoints: int = 2  # periodic checkpoints kept on disk (the final one always stays)


@dataclass(frozen=True)
class PixelLoss:
    """Reconstruction loss on pixels; the published loss is the mean squared error."""

    type: str = "mse"  # mse | l1
    weight: float = 1.0


@dataclass(frozen=True)
class PerceptualLoss:
    """Inception-feature loss (the published ``loss.perceptual`` with target ``fid``)."""

    target: str = "fid"  # fid | none
    weight: float = 1.0


@dataclass(frozen=True)
class DiscriminatorLoss:
    """PatchGAN adversarial loss and LPIPS weight (the published ``loss.discriminator``)."""

    disc_start: int = 600_000  # first optimiser step that uses the adversarial loss
    disc_weight: float = 0.3  # scale on the adaptive generator weight
    disc_factor: float = 1.0
    disc_loss: str = "hinge"  # hinge | vanilla
    disc_num_layers: int = 3
    disc_ndf: int = 64
    disc_in_channels: int = 3
    disc_conditional: bool = False
    disc_norm: str = "batch"  # batch (published) | none; batch statistics are per rank
    perceptual_weight: float = 1.0  # LPIPS weight
    pixelloss_weight: float = 1.0  # accepted for published files; the pixel weight is loss.pixel.weight
    codebook_weight: float = 1.0  # accepted for published files; GPSToken has no codebook


@dataclass(frozen=True)
class LossSection:
    pixel: PixelLoss = PixelLoss()
    perceptual: PerceptualLoss = PerceptualLoss()
    discriminator: DiscriminatorLoss = DiscriminatorLoss()


@dataclass(frozen=True)
class DataParams:
    paths_or_file: str = ""  # replaced by `gpstoken train --data`
    size: int = 256  # side of the square training image in pixels
    hflip: bool = True
    adaptive_minhw: int = 8  # the published dataset's minimum region extent for splitting


@dataclass(frozen=True)
class DataSection:
    target: str = "AdaptiveGPSDataset"
    num_workers: int = 0  # accepted for published files; samples come from the partition cache
    params: DataParams = DataParams()


@dataclass(frozen=True)
class TrainConfig:
    model: TokenizerConfig = TokenizerConfig()
    train: TrainSection = TrainSection()
    loss: LossSection = LossSection()
    data: DataSection = DataSection()
    source: str = "<defaults>"

    @property
    def tokens(self) -> int:
        return self.model.gps.gps_num

    def to_dict(self) -> Dict[str, Any]:
        """The resolved config in the published YAML layout (JSON-able)."""
        return {
            "model": self.model.to_dict(),
            "train": _plain(self.train),
            "loss": {name: _plain(getattr(self.loss, name)) for name in ("pixel", "perceptual", "discriminator")},
            "data": {"target": self.data.target, "num_workers": self.data.num_workers, "params": _plain(self.data.params)},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _plain(section) -> Dict[str, Any]:
    out = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


_FLOAT_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _coerce(value, default, where: str):
    """Coerce ``value`` to the type of ``default`` or raise a ConfigError naming ``where``."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # PyYAML follows YAML 1.1, where `1e-3` (no dot) is a string, not a float.
        if isinstance(value, str) and _FLOAT_TEXT.match(value):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return tuple(float(v) for v in value)
        raise ConfigError(f"{where}: expected a list of numbers, got {value!r}")
    raise AssertionError(f"no type rule for {where}")


def _section(cls, raw, where: str):
    """Build dataclass ``cls`` from mapping ``raw``; nested dataclass fields recurse."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(fields))}")
    values = {}
    for name, value in raw.items():
        default = fields[name].default
        if dataclasses.is_dataclass(default):
            values[name] = _section(type(default), value, f"{where}.{name}")
        else:
            values[name] = _coerce(value, default, f"{where}.{name}")
    return cls(**values)


def _validate(config: TrainConfig) -> None:
    t, d, p = config.train, config.loss.discriminator, config.data.params
    image_size = config.model.image_size
    rules = [
        (t.lr > 0, f"train.lr must be > 0, got {t.lr}"),
        (t.batch_size >= 1, f"train.batch_size must be >= 1, got {t.batch_size}"),
        (t.grad_accumulation >= 1, f"train.grad_accumulation must be >= 1, got {t.grad_accumulation}"),
        (t.iterations >= 0, f"train.iterations must be >= 0, got {t.iterations}"),
        (t.log_interval >= 1, f"train.log_interval must be >= 1, got {t.log_interval}"),
        (t.save_interval >= 1, f"train.save_interval must be >= 1, got {t.save_interval}"),
        (t.eval_interval >= 0, f"train.eval_interval must be >= 0 (0 evaluates only at the end), got {t.eval_interval}"),
        (len(t.betas) == 2 and all(0 <= b < 1 for b in t.betas), f"train.betas must be two numbers in [0, 1), got {list(t.betas)}"),
        (t.grad_clip >= 0, f"train.grad_clip must be >= 0, got {t.grad_clip}"),
        (0 <= t.ema_beta < 1, f"train.ema_beta must be in [0, 1), got {t.ema_beta}"),
        (t.ema_update_every >= 1, f"train.ema_update_every must be >= 1, got {t.ema_update_every}"),
        (t.keep_checkpoints >= 1, f"train.keep_checkpoints must be >= 1, got {t.keep_checkpoints}"),
        (config.loss.pixel.type in ("mse", "l1"), f"loss.pixel.type must be 'mse' or 'l1', got {config.loss.pixel.type!r}"),
        (config.loss.perceptual.target in ("fid", "none"),
         f"loss.perceptual.target must be 'fid' or 'none', got {config.loss.perceptual.target!r}"),
        (d.disc_loss in ("hinge", "vanilla"), f"loss.discriminator.disc_loss must be 'hinge' or 'vanilla', got {d.disc_loss!r}"),
        (d.disc_norm in ("batch", "none"), f"loss.discriminator.disc_norm must be 'batch' or 'none', got {d.disc_norm!r}"),
        (not d.disc_conditional, "loss.discriminator.disc_conditional: true is not supported (GPSToken trains an unconditional discriminator)"),
        (d.disc_in_channels == config.model.decoder.out_ch,
         f"loss.discriminator.disc_in_channels ({d.disc_in_channels}) must equal decoderconfig.out_ch ({config.model.decoder.out_ch})"),
        (d.disc_num_layers >= 1, f"loss.discriminator.disc_num_layers must be >= 1, got {d.disc_num_layers}"),
        (d.disc_start >= 0, f"loss.discriminator.disc_start must be >= 0, got {d.disc_start}"),
        (p.size == image_size,
         f"data.params.size ({p.size}) must equal the image size the model decodes "
         f"(gps_rs {config.model.gps.gps_rs[0]} x 2^(len(ch_mult) - 1) = {image_size})"),
        (p.adaptive_minhw >= 1, f"data.params.adaptive_minhw must be >= 1, got {p.adaptive_minhw}"),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(f"{config.source}: {message}")


def train_config_from_dict(document: Mapping, source: str = "<dict>") -> TrainConfig:
    """Validate a whole YAML document (``model``, ``train``, ``loss``, ``data``)."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a YAML mapping at the top level")
    known = ("model", "train", "loss", "data")
    unknown = sorted(set(document) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key '{unknown[0]}'; known keys: {', '.join(known)}")
    if "model" not in document:
        raise ConfigError(f"{source}: missing the 'model' section (gpsconfig and decoderconfig)")
    model = config_from_dict(document["model"], source=source, prefix="model.")
    config = TrainConfig(
        model=model,
        train=_section(TrainSection, document.get("train"), f"{source}: train"),
        loss=_section(LossSection, document.get("loss"), f"{source}: loss"),
        data=_section(DataSection, document.get("data"), f"{source}: data"),
        source=source,
    )
    _validate(config)
    return config


def load_train_config(path: str) -> TrainConfig:
    """Read and validate a training YAML file."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    return train_config_from_dict(document, source=path)
