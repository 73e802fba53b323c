"""Classifier-free guidance with a guidance interval in t, as a velocity function."""
import torch


def guided_velocity(model, y, cond, *, cfg_scale=1.0, guidance_low=0.0, guidance_high=1.0, null_class=None):
    """Return ``v(x, t)`` for labels y [B] and layout cond [B, N, 5] (or None).

    Inside ``guidance_low <= t <= guidance_high`` (t in [0, 1], 1 = data) the model runs on
    the doubled batch ``[y, null]`` and returns ``v_null + cfg_scale (v_y - v_null)``; outside
    it returns the conditional velocity alone. This equals the first half of the published
    ``forward_with_cfg`` on a doubled batch, which is all the published sampler keeps, at half
    the cost outside the interval. A scale of 1 skips the unconditional pass.
    """
    null_class = model.num_classes if null_class is None else null_class
    rows = model.y_embedder.embedding_table.num_embeddings
    if cfg_scale != 1.0 and null_class >= rows:
        raise ValueError(
            f"classifier-free guidance needs the null class {null_class}, but the label table has {rows} rows "
            "(the model was built without label dropout); use a guidance scale of 1"
        )

    def velocity(x, t):
        t0 = float(t[0])
        if cfg_scale == 1.0 or not guidance_low <= t0 <= guidance_high:
            return model(x, t, y, cond=cond)
        null = torch.full_like(y, null_class)
        both_cond = None if cond is None else torch.cat([cond, cond], dim=0)
        out = model(torch.cat([x, x], dim=0), torch.cat([t, t], dim=0), torch.cat([y, null], dim=0), cond=both_cond)
        conditional, unconditional = out.chunk(2, dim=0)
        return unconditional + cfg_scale * (conditional - unconditional)

    return velocity
