"""Evaluation metrics: FID Inception features, LPIPS, PSNR/SSIM presets, SWD, IS, precision/recall."""
