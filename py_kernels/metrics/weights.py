"""Local pretrained weight files: checksum check and safe loading.

Nothing is downloaded. A file whose name ends in ``-<8 hex digits>.pth`` (the torch hub
convention) must have a sha256 starting with those digits; files are read with
``torch.load(weights_only=True)`` so a malicious pickle cannot run code.
"""
import hashlib
import os


class MissingWeightsError(FileNotFoundError):
    """A pretrained weight file that a metric needs is not available."""


class WeightChecksumError(ValueError):
    """A weight file whose sha256 does not start with the expected prefix."""


def sha256_file(path, chunk=1 << 20):
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(path, sha256_prefix=None, what="weights"):
    """Return ``(state_dict, sha256)`` of a local ``.pth`` file after checking its checksum."""
    import torch

    if not path or not os.path.isfile(path):
        raise MissingWeightsError(f"{what}: file {path!r} not found")
    digest = sha256_file(path)
    if sha256_prefix and not digest.startswith(sha256_prefix):
        raise WeightChecksumError(
            f"{what}: {path} has sha256 {digest[:16]}..., expected a hash starting with {sha256_prefix}; "
            "the file is corrupt or a different release"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{what}: {path} does not contain a state dict (found {type(state).__name__})")
    return state, digest
