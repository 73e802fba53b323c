"""Flow-matching training loss for velocity prediction on the linear path."""
import torch

from . import path


def sample_times(batch, device, generator=None, t0=0.0, t1=1.0):
    """t ~ U[t0, t1]; SiT uses the full [0, 1] for the linear path with velocity prediction."""
    u = torch.rand(batch, device=device, generator=generator)
    return u * (t1 - t0) + t0


def training_losses(model, x1, model_kwargs=None, generator=None):
    """Return ``{"loss": [B], "pred": ...}``: per-sample MSE between predicted and true velocity.

    x1 is a batch of (normalised) data; noise and times are drawn from ``generator`` when
    given, so a resumed run can reproduce its random stream.
    """
    model_kwargs = model_kwargs or {}
    t = sample_times(x1.shape[0], x1.device, generator)
    x0 = torch.randn(x1.shape, device=x1.device, generator=generator, dtype=x1.dtype)
    xt, ut = path.plan(t, x0, x1)
    pred = model(xt, t, **model_kwargs)
    if pred.shape != xt.shape:
        raise ValueError(f"model output shape {tuple(pred.shape)} differs from its input shape {tuple(xt.shape)}")
    loss = ((pred - ut) ** 2).mean(dim=tuple(range(1, x1.dim())))
    return {"loss": loss, "pred": pred}
