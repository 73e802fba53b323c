"""Read and write the safetensors format with numpy alone (the `safetensors` package is optional).

Layout: an 8-byte little-endian header length, a JSON header mapping each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header) plus an optional ``"__metadata__"`` of string values, then the raw little-endian
tensor bytes. Nothing is executed while reading, so untrusted files are safe to open.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not valid safetensors; the message names the file and the problem."""


def _read_header(handle, path):
    raw_length = handle.read(8)
    if len(raw_length) != 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file")
    (length,) = struct.unpack("<Q", raw_length)
    if length > _MAX_HEADER:
        raise SafetensorsError(f"{path}: header length {length} is implausible; not a safetensors file?")
    try:
        header = json.loads(handle.read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"{path}: header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header, 8 + length


def read_metadata(path):
    """Return the ``__metadata__`` dict of a safetensors file (empty when absent)."""
    with open(path, "rb") as handle:
        header, _ = _read_header(handle, path)
    return dict(header.get("__metadata__") or {})


def load_numpy(path):
    """Return ``(tensors, metadata)``: a dict of numpy arrays and the metadata dict."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header, data_start = _read_header(handle, path)
        payload = handle.read()
    metadata = dict(header.pop("__metadata__", None) or {})
    tensors = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {entry.get('dtype')!r}")
        begin, end = entry["data_offsets"]
        shape = tuple(int(d) for d in entry["shape"])
        expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if end - begin != expected or data_start + end > size:
            raise SafetensorsError(f"{path}: tensor {name!r} is truncated or its offsets are inconsistent")
        array = np.frombuffer(payload[begin:end], dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = array.reshape(shape).astype(dtype, copy=True)
    return tensors, metadata


def load_torch(path, device="cpu"):
    """Return ``(tensors, metadata)`` with torch tensors on ``device``."""
    import torch

    arrays, metadata = load_numpy(path)
    return {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}, metadata


def save(path, tensors, metadata=None):
    """Write a dict of numpy arrays or torch tensors; the file appears atomically."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        value = tensors[name]
        if hasattr(value, "detach"):
            value = value.detach().cpu().contiguous().numpy()
        array = np.ascontiguousarray(value)
        code = _NAMES.get(array.dtype.newbyteorder("<").str) or _NAMES.get(array.dtype.str)
        if code is None:
            raise TypeError(f"tensor {name!r}: dtype {array.dtype} cannot be stored in safetensors")
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for blob in blobs:
            handle.write(blob)
    os.replace(temporary, path)
