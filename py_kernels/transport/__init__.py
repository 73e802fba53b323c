"""Flow matching on SiT's linear path: interpolant, loss, integrators, samplers, guidance."""
from . import integrators, path
from .guidance import guided_velocity
from .loss import training_losses
from .sampler import SamplerOptions, sample

__all__ = ["SamplerOptions", "guided_velocity", "integrators", "path", "sample", "training_losses"]
