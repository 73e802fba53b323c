"""Typed configuration of the GPSToken tokenizer (encoder, splatting size, decoder).

The published YAML files keep the tokenizer under ``model`` (tokenizer configs) or
``gpstoken`` (generator configs), each holding ``gpsconfig`` and ``decoderconfig``. Key names
follow the published files so that those files load as they are. Every key is checked: an
unknown key, a missing key without a default, or a value of the wrong type raises
:class:`ConfigError` naming the key and the file. Sections other than the tokenizer's
(``train``, ``loss``, ``data``, ``transport`` ...) belong to the trainer and generator configs
and are validated there.
"""
import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

# Fixed by the published architecture rather than by the configs.
ATTENTION_HEADS = 8
GROUP_NORM_GROUPS = 32


class ConfigError(ValueError):
    """A config that cannot build a model; the message names the file and the key."""


@dataclass(frozen=True)
class GPSConfig:
    """Encoder and splatting settings (the published ``gpsconfig``)."""

    rois: int = 8  # RoIAlign output is rois x rois per region
    gpsenc_n: int = 30  # transformer blocks
    gpsenc_c: int = 512  # transformer width
    gps_c: int = 16  # texture channels per token
    gps_num: int = 128  # tokens per 256x256 image (the partition's default)
    gps_dmax: float = 3.0  # support factor of the splatting
    gps_adaptive_w: float = 2.5  # entropy exponent of the partition's complexity score
    gps_rs: Tuple[int, int] = (64, 64)  # rendered feature map (height, width)
    # Not in the published files, which hard-code 128: narrower stems make tiny CPU models
    # fast, since the stem runs at full image resolution.
    stem_c: int = 128


@dataclass(frozen=True)
class DecoderConfig:
    """VQGAN-style decoder settings (the published ``decoderconfig``)."""

    z_channels: int = 16
    ch: int = 128
    ch_mult: Tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: Tuple[int, ...] = ()
    dropout: float = 0.0
    out_ch: int = 3
    in_channels: int = 3  # kept for the published files; the decoder does not use it
    resolution: int = 256  # only decides where attn_resolutions apply
    double_z: bool = False  # kept for the published files; the decoder does not use it
    resamp_with_conv: bool = True
    give_pre_end: bool = False


@dataclass(frozen=True)
class TokenizerConfig:
    gps: GPSConfig = GPSConfig()
    decoder: DecoderConfig = DecoderConfig()
    source: str = "<defaults>"

    @property
    def image_size(self) -> int:
        """Side of the image one 256x256 tile decodes to (gps_rs times the upsampling)."""
        return self.gps.gps_rs[0] * 2 ** (len(self.decoder.ch_mult) - 1)

    def to_dict(self) -> Dict[str, Any]:
        """Return the published layout ``{"gpsconfig": {...}, "decoderconfig": {...}}``."""
        return {"gpsconfig": _plain(self.gps), "decoderconfig": _plain(self.decoder)}

    def to_metadata(self) -> Dict[str, str]:
        """Strings for a safetensors ``__metadata__`` (the golden files use these two keys)."""
        return {key: json.dumps(value) for key, value in self.to_dict().items()}


def _plain(section) -> Dict[str, Any]:
    return {f.name: _listify(getattr(section, f.name)) for f in dataclasses.fields(section)}


def _listify(value):
    return list(value) if isinstance(value, tuple) else value


def _check_type(value, default, where: str):
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
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{where}: expected a list of integers, got {value!r}")
        return tuple(value)
    raise AssertionError(f"no type rule for {where}")


def _parse_section(cls, raw, where: str):
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(fields))}"
        )
    values = {name: _check_type(value, fields[name].default, f"{where}.{name}") for name, value in raw.items()}
    return cls(**values)


def _validate(config: TokenizerConfig, source: str) -> None:
    gps, dec = config.gps, config.decoder
    rules = [
        (gps.rois >= 1, f"gpsconfig.rois must be >= 1, got {gps.rois}"),
        (gps.gpsenc_n >= 0, f"gpsconfig.gpsenc_n must be >= 0, got {gps.gpsenc_n}"),
        (
            gps.gpsenc_c > 0 and gps.gpsenc_c % ATTENTION_HEADS == 0,
            f"gpsconfig.gpsenc_c must be a positive multiple of {ATTENTION_HEADS} "
            f"(attention heads), got {gps.gpsenc_c}",
        ),
        (gps.gps_c >= 1, f"gpsconfig.gps_c must be >= 1, got {gps.gps_c}"),
        (
            gps.stem_c > 0 and gps.stem_c % GROUP_NORM_GROUPS == 0,
            f"gpsconfig.stem_c must be a positive multiple of {GROUP_NORM_GROUPS} (GroupNorm groups), got {gps.stem_c}",
        ),
        (gps.gps_num >= 1, f"gpsconfig.gps_num must be >= 1, got {gps.gps_num}"),
        (gps.gps_dmax > 0, f"gpsconfig.gps_dmax must be > 0, got {gps.gps_dmax}"),
        (
            len(gps.gps_rs) == 2 and min(gps.gps_rs) >= 1,
            f"gpsconfig.gps_rs must be [height, width] of positive sizes, got {list(gps.gps_rs)}",
        ),
        (
            dec.z_channels == gps.gps_c,
            f"decoderconfig.z_channels ({dec.z_channels}) must equal gpsconfig.gps_c "
            f"({gps.gps_c}): the decoder reads the splatted texture map",
        ),
        (dec.ch >= 1, f"decoderconfig.ch must be >= 1, got {dec.ch}"),
        (len(dec.ch_mult) >= 1, "decoderconfig.ch_mult must not be empty"),
        (all(m >= 1 for m in dec.ch_mult), f"decoderconfig.ch_mult entries must be >= 1, got {list(dec.ch_mult)}"),
        (dec.resolution >= 1, f"decoderconfig.resolution must be >= 1, got {dec.resolution}"),
        (0.0 <= dec.dropout < 1.0, f"decoderconfig.dropout must be in [0, 1), got {dec.dropout}"),
        (
            all(dec.ch * m % GROUP_NORM_GROUPS == 0 and m > 0 for m in dec.ch_mult),
            f"decoderconfig.ch * ch_mult must give multiples of {GROUP_NORM_GROUPS} "
            f"(GroupNorm groups), got ch={dec.ch}, ch_mult={list(dec.ch_mult)}",
        ),
        (dec.num_res_blocks >= 0, f"decoderconfig.num_res_blocks must be >= 0, got {dec.num_res_blocks}"),
        (dec.out_ch >= 1, f"decoderconfig.out_ch must be >= 1, got {dec.out_ch}"),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def config_from_dict(raw: Mapping, source: str = "<dict>", prefix: str = "") -> TokenizerConfig:
    """Build a config from ``{"gpsconfig": {...}, "decoderconfig": {...}}``."""
    where = f"{source}: {prefix}" if prefix else f"{source}: "
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where.rstrip(': ')}: expected a mapping with gpsconfig and decoderconfig")
    unknown = sorted(set(raw) - {"gpsconfig", "decoderconfig"})
    if unknown:
        raise ConfigError(f"{where}unknown key '{unknown[0]}'; known keys: decoderconfig, gpsconfig")
    gps = _parse_section(GPSConfig, raw.get("gpsconfig", {}), f"{where}gpsconfig")
    decoder = _parse_section(DecoderConfig, raw.get("decoderconfig", {}), f"{where}decoderconfig")
    config = TokenizerConfig(gps=gps, decoder=decoder, source=source)
    _validate(config, source)
    return config


def tokenizer_section(document: Mapping, source: str) -> Tuple[Mapping, str]:
    """Find the tokenizer section: ``gpstoken`` (generator configs) before ``model``."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a YAML mapping at the top level")
    for key in ("gpstoken", "model"):
        section = document.get(key)
        if isinstance(section, Mapping) and ("gpsconfig" in section or "decoderconfig" in section):
            return section, key
    raise ConfigError(
        f"{source}: no tokenizer section; expected 'model' or 'gpstoken' holding gpsconfig and decoderconfig"
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` entries may be overridden by explicit keys
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}; each key may appear once in a mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(handle):
    """Parse one YAML document safely, rejecting duplicate keys."""
    return yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str) -> TokenizerConfig:
    """Read a YAML file (published or user copy) into a validated TokenizerConfig."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            document = load_yaml(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    section, key = tokenizer_section(document, path)
    return config_from_dict(section, source=path, prefix=f"{key}.")


def config_from_metadata(metadata: Mapping[str, str], source: str) -> Optional[TokenizerConfig]:
    """Return the config stored in a checkpoint's metadata, or None when it has none."""
    if "gpsconfig" not in metadata or "decoderconfig" not in metadata:
        return None
    try:
        raw = {key: json.loads(metadata[key]) for key in ("gpsconfig", "decoderconfig")}
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: checkpoint metadata contains a config that is not valid JSON ({error})") from error
    return config_from_dict(raw, source=source)
