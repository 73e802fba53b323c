"""Backend of ``gpstoken generate``: layouts, then textures with SiT, then the tokenizer's decoder.

Sample ``i`` has class ``classes[i % K]`` (K classes in the run, as the published script
cycles them) and belongs to batch ``i // batch``. Batch ``k`` draws all its noise from a
generator seeded by (seed, k). Its layouts depend only on (seed, class, rank in class), so
any batch can be regenerated alone. A resumed run skips batches whose PNGs all exist and
writes byte-identical images for the rest. PNGs are named by global index (``000123.png``)
and written atomically.
"""
import json
import os
import platform

import numpy as np
import torch

from . import safetensors_io
from .bridge import entry_point
from .job import job

SETTINGS_FILE = "generate.json"
# Options that change the images; an existing output folder must have been made with the same.
IMAGE_KEYS = (
    "config", "weights", "tokenizer", "tokenizer_config", "layouts", "layout_model", "classes", "cfg_scale",
    "guidance_low", "guidance_high", "steps", "sampler", "method", "batch", "seed", "device", "clamp_centers",
    "atol", "rtol", "fingerprints",
)


class GenerateInputError(ValueError):
    """Options or input files that cannot work together; the CLI reports it with exit code 2."""


def derive_seed(seed, batch_index):
    """63-bit seed of one batch from the run seed and the batch index."""
    state = np.random.SeedSequence([int(seed), int(batch_index)]).generate_state(1, dtype=np.uint64)[0]
    return int(state) >> 1


def file_sha256(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_fingerprints(spec):
    """SHA-256 of every input file, so a resumed run notices a file replaced under the same path."""
    keys = ("config", "weights", "tokenizer", "tokenizer_config", "layouts", "layout_model")
    return {key: file_sha256(spec[key]) for key in keys if spec.get(key)}


def image_name(index, digits=6):
    return f"{index:0{digits}d}.png"


def load_tokenizer(weights, config_path=None, generator_config=None, device="cpu"):
    """The tokenizer from its weights; config from ``config_path``, the generator config or the file."""
    from .checkpoints import read_state_dict
    from .config import config_from_metadata, load_config
    from .tokenizer import build_gpstoken

    state, metadata = read_state_dict(weights)
    if config_path:
        config = load_config(config_path)
    elif generator_config is not None and generator_config.tokenizer is not None:
        config = generator_config.tokenizer
    else:
        config = config_from_metadata(metadata, weights)
        if config is None:
            raise GenerateInputError(f"{weights}: no tokenizer config in its metadata; pass --tokenizer-config")
    model = build_gpstoken(config)
    expected = model.state_dict()
    # The published tokenizer file also contains loss and discriminator weights, which are dropped.
    kept = {k: v for k, v in state.items() if k in expected}
    missing = sorted(set(expected) - set(kept))
    mismatched = sorted(k for k in kept if tuple(kept[k].shape) != tuple(expected[k].shape))
    if missing or mismatched:
        raise GenerateInputError(
            f"{weights}: tokenizer weights do not fit the config from {config.source}: "
            f"{len(missing)} missing keys {missing[:4]}, {len(mismatched)} mis-shaped keys {mismatched[:4]}"
        )
    model.load_state_dict(kept, strict=True)
    return model.to(device).eval(), config


def resolve_classes(raw, num_classes):
    """Class ids of the run: ``None`` = all model classes, an int K = 0..K-1, or a list."""
    if raw is None:
        ids = list(range(num_classes))
    elif isinstance(raw, int):
        ids = list(range(raw))
    else:
        ids = [int(c) for c in raw]
    bad = [c for c in ids if not 0 <= c < num_classes]
    if not ids or bad:
        raise GenerateInputError(
            f"--classes: class ids must be in [0, {num_classes}) because the generator has {num_classes} "
            f"class{'' if num_classes == 1 else 'es'}, got {bad or 'none'}"
        )
    return ids


def _check_settings(out, settings):
    path = os.path.join(out, SETTINGS_FILE)
    if not os.path.isfile(path):
        return
    with open(path) as handle:
        previous = json.load(handle).get("options", {})
    changed = [k for k in IMAGE_KEYS if k != "fingerprints" and previous.get(k) != settings.get(k)]
    details = [f"{k}: {previous.get(k)!r} -> {settings.get(k)!r}" for k in changed]
    old_prints, new_prints = previous.get("fingerprints") or {}, settings.get("fingerprints") or {}
    details += [f"content of --{k.replace('_', '-')} changed" for k in sorted(new_prints) if old_prints.get(k) != new_prints[k]]
    if details:
        details = ", ".join(details)
        raise GenerateInputError(
            f"{out} contains images made with other options ({details}); resume with the same options or choose a new --out"
        )


def _write_settings(out, settings, extra):
    record = {"options": settings, **extra, "versions": {
        "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}}
    temporary = os.path.join(out, SETTINGS_FILE + ".tmp")
    with open(temporary, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(temporary, os.path.join(out, SETTINGS_FILE))


def _write_png(path, image):
    from PIL import Image

    temporary = path + ".tmp"
    Image.fromarray(image).save(temporary, format="PNG")
    os.replace(temporary, path)


def to_uint8(images):
    # As the published script: clamp to [-1, 1], map to [0, 255] and truncate (no rounding).
    pixels = ((images.clamp(-1, 1) + 1.0) * 127.5).permute(0, 2, 3, 1).cpu().numpy()  # [B, H, W, 3]
    return pixels.astype(np.uint8)


class Pipeline:
    """Everything loaded once: generator, tokenizer, token statistics, layout source."""

    def __init__(self, spec):
        from .layout import load_layouts
        from .layout.generator import load_layout_generator
        from .sit.generator_config import load_generator_config
        from .sit.tokens import TokenStats
        from .sit.weights import load_sit

        self.device = torch.device(spec["device"])
        self.config = load_generator_config(spec["config"])
        self.model, _ = load_sit(spec["weights"], self.config.model, self.device)
        means, stds = self.config.means, self.config.stds
        stored = safetensors_io.read_metadata(spec["weights"])
        if "token_means" in stored:
            # Weights trained here carry the statistics they were normalised with.
            means, stds = json.loads(stored["token_means"]), json.loads(stored["token_stds"])
        if means is None:
            raise GenerateInputError(
                f"{spec['config']}: no pretrained_gpstoken_means/stds and {spec['weights']} contains none; "
                "add them to the config or use weights from `gpstoken train-generator`"
            )
        self.stats = TokenStats(means, stds)
        self.tokenizer, tokenizer_config = load_tokenizer(
            spec["tokenizer"], spec.get("tokenizer_config"), self.config, self.device
        )
        gps = tokenizer_config.gps
        if gps.gps_c + 5 != self.config.model.in_channels or gps.gps_num != self.config.model.tokens:
            raise GenerateInputError(
                f"tokenizer ({gps.gps_num} tokens x {5 + gps.gps_c} channels) does not match the generator "
                f"({self.config.model.tokens} tokens x {self.config.model.in_channels} channels)"
            )
        self.bank = load_layouts(spec["layouts"]) if spec.get("layouts") else None
        self.layout_model = load_layout_generator(spec["layout_model"], self.device) if spec.get("layout_model") else None
        if self.bank is not None and self.bank.tokens != self.config.model.tokens:
            raise GenerateInputError(
                f"{spec['layouts']}: layouts have {self.bank.tokens} tokens but the generator models "
                f"{self.config.model.tokens}; build the bank with `gpstoken train-layout --bank ... --tokens {self.config.model.tokens}`"
            )

    def layouts(self, ranks, class_ids, seed, generator):
        if self.bank is not None:
            return torch.from_numpy(self.bank.select(ranks, class_ids, seed)).to(self.device)
        return self.layout_model.sample(class_ids, generator)

    @torch.no_grad()
    def batch(self, indices, class_ids, ranks, spec, options):
        from .sit.tokens import tokens_from_sample
        from .transport import guided_velocity, sample

        generator = torch.Generator(self.device).manual_seed(derive_seed(spec["seed"], indices[0] // spec["batch"]))
        layouts = self.layouts(ranks, class_ids, spec["seed"], generator)  # [B, N, 5]
        c, n = self.config.model.in_channels, self.config.model.tokens
        noise = torch.randn(len(indices), c, n, 1, generator=generator, device=self.device)  # [B, C, N, 1]
        y = torch.tensor(class_ids, device=self.device)
        velocity = guided_velocity(
            self.model, y, layouts, cfg_scale=spec["cfg_scale"],
            guidance_low=spec["guidance_low"], guidance_high=spec["guidance_high"],
        )
        state, stats = sample(velocity, noise, options, generator)
        tokens = tokens_from_sample(state, layouts, self.stats, spec["clamp_centers"])  # [B, N, C]
        images = self.tokenizer.decode(self.tokenizer.render(tokens))  # [B, 3, H, W]
        return to_uint8(images), stats


def _plan(spec, class_ids):
    count, size = spec["count"], spec["batch"]
    for start in range(0, count, size):
        indices = list(range(start, min(start + size, count)))
        yield indices, [class_ids[i % len(class_ids)] for i in indices], [i // len(class_ids) for i in indices]


def resolve_spec(spec):
    """Fill the sampling options left unset (None) from the config's ``sample`` section."""
    from .sit.generator_config import load_generator_config

    defaults = load_generator_config(spec["config"]).sample
    resolved = dict(spec)
    for key in ("sampler", "method", "steps", "cfg_scale", "guidance_low", "guidance_high", "clamp_centers"):
        if resolved.get(key) is None:
            resolved[key] = getattr(defaults, key)
    if resolved["sampler"] == "sde" and spec.get("method") is None:
        resolved["method"] = "euler"
    resolved.setdefault("atol", None)
    resolved.setdefault("rtol", None)
    resolved["atol"] = resolved["atol"] or 1e-6
    resolved["rtol"] = resolved["rtol"] or 1e-3
    if not 0 <= resolved["guidance_low"] <= resolved["guidance_high"] <= 1:
        raise GenerateInputError(
            f"guidance interval must satisfy 0 <= low <= high <= 1, got [{resolved['guidance_low']}, {resolved['guidance_high']}]"
        )
    return resolved


@job
def generate_images(spec, report):
    """Generate ``spec["count"]`` PNGs into ``spec["out"]``; see the module docstring."""
    from .sit.generator_config import load_generator_config
    from .transport import SamplerOptions

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    spec = resolve_spec(spec)
    options = SamplerOptions(
        sampler=spec["sampler"], method=spec["method"], steps=spec["steps"], atol=spec["atol"], rtol=spec["rtol"]
    )
    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    spec["fingerprints"] = input_fingerprints(spec)
    settings = {k: spec.get(k) for k in IMAGE_KEYS}
    _check_settings(out, settings)
    # Checked before the models load, so a wrong --classes fails in seconds.
    class_ids = resolve_classes(spec.get("classes"), load_generator_config(spec["config"]).model.num_classes)
    pipeline = Pipeline(spec)
    _write_settings(out, settings, {"count": spec["count"], "class_ids": class_ids, "sampler": options.to_dict()})
    batches = list(_plan(spec, class_ids))
    report({"event": "start", "batches": len(batches), "count": spec["count"]})
    written = skipped = 0
    for number, (indices, classes, ranks) in enumerate(batches):
        paths = [os.path.join(out, image_name(i)) for i in indices]
        missing = [p for p in paths if not os.path.isfile(p)]
        if not missing:
            skipped += len(paths)
            report({"event": "batch", "batch": number, "written": 0, "skipped": len(paths)})
            continue
        images, stats = pipeline.batch(indices, classes, ranks, spec, options)
        for path, image in zip(paths, images):
            if path in missing:
                _write_png(path, image)
        written += len(missing)
        skipped += len(paths) - len(missing)
        report({"event": "batch", "batch": number, "written": len(missing), "skipped": len(paths) - len(missing),
                "nfe": stats["nfe"]})
    return {"out": out, "written": written, "skipped": skipped, "count": spec["count"]}


@entry_point
def init_random_weights(kind, config, out, seed=0):
    """Write randomly initialised weights (``kind`` = generator | tokenizer) for smoke tests.

    The SiT output layers start at zero (adaLN-Zero), so every sample would equal its noise.
    They are re-drawn small so that a random generator still exercises every path.
    """
    torch.manual_seed(int(seed))
    if kind == "generator":
        from .sit import SiT
        from .sit.generator_config import load_generator_config

        cfg = load_generator_config(config)
        model = SiT(cfg.model)
        for name, param in model.named_parameters():
            if "adaLN_modulation" in name or "final_layer.linear" in name:
                torch.nn.init.normal_(param, std=0.02)
        metadata = {"config": cfg.model.to_json()}
        safetensors_io.save(out, model.state_dict(), metadata)
        return {"path": out, "parameters": sum(p.numel() for p in model.parameters())}
    if kind == "tokenizer":
        from .checkpoints import save_checkpoint
        from .config import load_config
        from .tokenizer import build_gpstoken

        tokenizer_config = load_config(config)
        model = build_gpstoken(tokenizer_config)
        save_checkpoint(model, out, tokenizer_config)
        return {"path": out, "parameters": sum(p.numel() for p in model.parameters())}
    raise ValueError(f"kind must be 'generator' or 'tokenizer', got {kind!r}")
