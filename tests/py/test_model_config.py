"""Parsing and validation of the tokenizer config (published YAML files and user copies)."""
import os

import pytest

from py_kernels.config import ConfigError, load_config


@pytest.mark.parametrize(
    "name, gps_num, gps_c",
    [("gpstoken_s64", 64, 16), ("gpstoken_m128", 128, 16), ("gpstoken_l256", 256, 32), ("gpstoken_generator", 128, 16)],
)
def test_published_configs_load(reference_dir, name, gps_num, gps_c):
    config = load_config(os.path.join(reference_dir, f"{name}.yaml"))
    assert (config.gps.gps_num, config.gps.gps_c, config.gps.gps_rs, config.image_size) == (gps_num, gps_c, (64, 64), 256)
    assert config.decoder.ch_mult == (1, 2, 4)


BASE = """model:
  gpsconfig: {rois: 2, gpsenc_n: 1, gpsenc_c: 32, gps_c: 4, gps_num: 16, gps_dmax: 3, gps_adaptive_w: 2.5, gps_rs: [16, 16]}
  decoderconfig: {z_channels: 4, ch: 32, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [], dropout: 0.0}
train: {lr: 1.0e-4}
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (("gps_rs: [16, 16]", "gps_rs: [16, 16], gps_foo: 1"),
         "unknown key 'gps_foo'; known keys: gps_adaptive_w, gps_c, gps_dmax, gps_num, gps_rs, gpsenc_c, gpsenc_n, rois, stem_c"),
        (("dropout: 0.0}", "dropout: 0.0, chmult: 2}"), "model.decoderconfig: unknown key 'chmult'"),
        (("gps_num: 16", "gps_num: 16.5"), "model.gpsconfig.gps_num: expected an integer, got 16.5"),
        (("ch_mult: [1, 2]", "ch_mult: 2"), "model.decoderconfig.ch_mult: expected a list of integers, got 2"),
        (("z_channels: 4", "z_channels: 8"), "decoderconfig.z_channels (8) must equal gpsconfig.gps_c (4)"),
        (("gpsenc_c: 32", "gpsenc_c: 36"), "gpsconfig.gpsenc_c must be a positive multiple of 8 (attention heads), got 36"),
        (("ch: 32", "ch: -32"), "decoderconfig.ch must be >= 1, got -32"),
        (("ch_mult: [1, 2]", "ch_mult: [1, 0]"), "decoderconfig.ch_mult entries must be >= 1, got [1, 0]"),
        (("dropout: 0.0}", "dropout: 1.5}"), "decoderconfig.dropout must be in [0, 1), got 1.5"),
        (("train: {lr: 1.0e-4}", "train: {lr: 1.0e-4, lr: 2.0e-4}"), "not valid YAML (duplicate key 'lr'; each key may appear once in a mapping"),
        (("model:", "modle:"), "no tokenizer section; expected 'model' or 'gpstoken' holding gpsconfig and decoderconfig"),
    ],
)
def test_bad_configs_name_file_and_key(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace(*edit))
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_roundtrip_through_metadata(tmp_path):
    from py_kernels.config import config_from_metadata

    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    config = load_config(str(path))
    assert config_from_metadata(config.to_metadata(), "meta").to_dict() == config.to_dict()
    assert config.image_size == 32
