"""GPSToken tokenizer training: config, losses, PatchGAN discriminator, EMA, checkpoints,
distributed helpers and the per-rank entry point started by `gpstoken train`."""
