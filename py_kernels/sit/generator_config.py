"""The generator YAML: SiT model, token statistics, transport, tokenizer, sampling, training.

The published ``gpstoken_generator.yaml`` loads as it is (sections ``model``, ``transport``,
``gpstoken``, ``pretrained_gpstoken_means`` / ``_stds``). This project adds optional
sections with defaults: ``model`` may override preset sizes (``hidden_size``, ``depth``,
``num_heads`` ...) for small experiments, ``sample`` holds sampler defaults, ``train`` the
generator training settings and ``layout_model`` the layout generator. Unknown keys raise
:class:`GeneratorConfigError` naming the file and the key.
"""
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Optional, Tuple

import yaml

from ..config import ConfigError, TokenizerConfig, config_from_dict
from .config import SiTConfig, config_from_preset

GAUSSIAN_CHANNELS = 5


class GeneratorConfigError(ValueError):
    """A generator config that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SampleSection:
    sampler: str = "sde"  # the published generate script samples with the SDE by default
    method: str = "euler"
    steps: int = 250
    cfg_scale: float = 1.0
    guidance_low: float = 0.0  # t in [0, 1]; the published script's --guidance_low 200 is 0.2
    guidance_high: float = 1.0
    # The published post-processing clamps sigma_x, sigma_y to [1e-5, 1 - 1e-5] and rho to
    # +-(1 - 1e-5) but leaves x, y unclamped; true also clamps centres to [-1, 1].
    clamp_centers: bool = False


@dataclass(frozen=True)
class TrainSection:
    lr: float = 1e-4  # SiT: AdamW, lr 1e-4, no weight decay
    weight_decay: float = 0.0
    batch_size: int = 32  # per rank
    iterations: int = 400_000
    log_interval: int = 100
    save_interval: int = 10_000
    keep_checkpoints: int = 2
    grad_clip: float = 0.0  # 0 turns clipping off
    seed: int = 0
    ema_beta: float = 0.9999
    ema_update_after_step: int = 0
    ema_update_every: int = 1
    num_workers: int = 0


@dataclass(frozen=True)
class LayoutModelSection:
    """The small flow-matching model over the five Gaussian parameters of every token."""

    hidden_size: int = 128
    depth: int = 4
    num_heads: int = 4
    class_dropout_prob: float = 0.1
    lr: float = 3e-4
    batch_size: int = 64
    iterations: int = 20_000
    log_interval: int = 100
    save_interval: int = 2_000
    seed: int = 0
    ema_beta: float = 0.999
    steps: int = 50  # Heun ODE steps when sampling layouts
    method: str = "heun"


@dataclass(frozen=True)
class GeneratorConfig:
    model: SiTConfig
    means: Optional[Tuple[float, ...]]
    stds: Optional[Tuple[float, ...]]
    tokenizer: Optional[TokenizerConfig]
    sample: SampleSection = SampleSection()
    train: TrainSection = TrainSection()
    layout_model: LayoutModelSection = LayoutModelSection()
    source: str = "<dict>"

    def to_dict(self):
        out = {
            "model": dataclasses.asdict(self.model),
            "pretrained_gpstoken_means": list(self.means) if self.means else None,
            "pretrained_gpstoken_stds": list(self.stds) if self.stds else None,
            "sample": dataclasses.asdict(self.sample),
            "train": dataclasses.asdict(self.train),
            "layout_model": dataclasses.asdict(self.layout_model),
        }
        if self.tokenizer is not None:
            out["gpstoken"] = self.tokenizer.to_dict()
        return out


_MODEL_KEYS = {"name", "latent_size", "num_classes", "in_channels"}
_MODEL_OVERRIDES = {"hidden_size", "depth", "num_heads", "mlp_ratio", "class_dropout_prob", "learn_sigma", "patch_size"}
_TOP_KEYS = {"model", "transport", "gpstoken", "pretrained_gpstoken_means", "pretrained_gpstoken_stds", "sample", "train", "layout_model"}


def _section(cls, raw, where):
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise GeneratorConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise GeneratorConfigError(f"{where}: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(fields))}")
    values = {}
    for name, value in raw.items():
        default = fields[name].default
        if isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, (int, float)) and not isinstance(value, (int, float))
        ) or (isinstance(default, str) and not isinstance(value, str)):
            raise GeneratorConfigError(f"{where}.{name}: expected {type(default).__name__}, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            raise GeneratorConfigError(f"{where}.{name}: expected an integer, got {value!r}")
        values[name] = float(value) if isinstance(default, float) else value
    return cls(**values)


def _model(raw, gps_c, source):
    if not isinstance(raw, dict):
        raise GeneratorConfigError(f"{source}: model: expected a mapping with name, latent_size, num_classes, in_channels")
    unknown = sorted(set(raw) - _MODEL_KEYS - _MODEL_OVERRIDES)
    if unknown:
        raise GeneratorConfigError(
            f"{source}: model: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(_MODEL_KEYS | _MODEL_OVERRIDES))}"
        )
    missing = sorted(_MODEL_KEYS - set(raw))
    if missing:
        raise GeneratorConfigError(f"{source}: model: missing key '{missing[0]}'")
    in_channels = int(raw["in_channels"])
    # As the published script: the layout condition is the token minus its texture channels.
    cond_channels = in_channels - gps_c if gps_c is not None else GAUSSIAN_CHANNELS
    overrides = {k: raw[k] for k in _MODEL_OVERRIDES if k in raw}
    try:
        return config_from_preset(
            raw["name"],
            tokens=int(raw["latent_size"]),
            in_channels=in_channels,
            num_classes=int(raw["num_classes"]),
            cond_channels=cond_channels,
            **overrides,
        )
    except (ValueError, TypeError) as error:
        raise GeneratorConfigError(f"{source}: model: {error}") from error


def _stats(document, key, channels, source):
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != channels or not all(isinstance(v, (int, float)) for v in value):
        raise GeneratorConfigError(f"{source}: {key} must be a list of {channels} numbers (one per token channel)")
    if key.endswith("stds") and min(value) <= 0:
        raise GeneratorConfigError(f"{source}: {key} must be positive, got {min(value)}")
    return tuple(float(v) for v in value)


def generator_config_from_dict(document, source="<dict>"):
    if not isinstance(document, dict):
        raise GeneratorConfigError(f"{source}: expected a YAML mapping at the top level")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise GeneratorConfigError(f"{source}: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(_TOP_KEYS))}")
    transport = document.get("transport") or {}
    expected = {"path_type": "Linear", "prediction": "velocity", "loss_weight": None}
    for key, value in transport.items():
        if key not in expected:
            raise GeneratorConfigError(f"{source}: transport: unknown key '{key}'; known keys: {', '.join(expected)}")
        if value != expected[key]:
            raise GeneratorConfigError(f"{source}: transport.{key}: only {expected[key]!r} is implemented, got {value!r}")
    tokenizer = None
    if document.get("gpstoken") is not None:
        try:
            tokenizer = config_from_dict(document["gpstoken"], source=source, prefix="gpstoken.")
        except ConfigError as error:
            raise GeneratorConfigError(str(error)) from error
    model = _model(document.get("model"), tokenizer.gps.gps_c if tokenizer else None, source)
    if tokenizer is not None and tokenizer.gps.gps_num != model.tokens:
        raise GeneratorConfigError(
            f"{source}: model.latent_size ({model.tokens}) must equal gpstoken.gpsconfig.gps_num ({tokenizer.gps.gps_num})"
        )
    return GeneratorConfig(
        model=model,
        means=_stats(document, "pretrained_gpstoken_means", model.in_channels, source),
        stds=_stats(document, "pretrained_gpstoken_stds", model.in_channels, source),
        tokenizer=tokenizer,
        sample=_section(SampleSection, document.get("sample"), f"{source}: sample"),
        train=_section(TrainSection, document.get("train"), f"{source}: train"),
        layout_model=_section(LayoutModelSection, document.get("layout_model"), f"{source}: layout_model"),
        source=source,
    )


def load_generator_config(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as error:
        raise GeneratorConfigError(f"{path}: cannot read the generator config ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise GeneratorConfigError(f"{path}: not valid YAML ({error})") from error
    return generator_config_from_dict(document, source=path)


def config_json(config):
    return json.dumps(config.to_dict(), sort_keys=True)
