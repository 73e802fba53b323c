"""SiT flow-matching transformer over GPSToken token sequences."""
from .config import PRESETS, SiTConfig, config_from_preset
from .model import SiT

__all__ = ["PRESETS", "SiT", "SiTConfig", "config_from_preset"]
