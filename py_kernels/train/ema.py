"""Exponential moving average of the model weights.

The schedule matches the defaults of ``ema_pytorch.EMA`` (what the published training
wraps the model in): the EMA copies the weights for the first ``update_after_step`` updates,
then updates every ``update_every`` optimiser steps with decay
``1 - (1 + k / inv_gamma) ** -power`` (``k`` counts steps after the copy phase), capped at
``beta``. Buffers (GroupNorm has none, BatchNorm would) are copied, not averaged.
"""
import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, beta=0.9999, update_after_step=100, update_every=10,
                 inv_gamma=1.0, power=2.0 / 3.0):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.beta = beta
        self.update_after_step = update_after_step
        self.update_every = update_every
        self.inv_gamma = inv_gamma
        self.power = power
        self.step = 0  # number of update() calls, one per optimiser step

    def decay(self, step: int) -> float:
        k = step - self.update_after_step - 1
        if k <= 0:
            return 0.0
        value = 1 - (1 + k / self.inv_gamma) ** -self.power
        return min(max(value, 0.0), self.beta)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        step = self.step
        self.step += 1
        if step % self.update_every != 0:
            return
        source = dict(model.named_parameters())
        if step <= self.update_after_step:
            for name, param in self.model.named_parameters():
                param.copy_(source[name])
        else:
            decay = self.decay(step)
            for name, param in self.model.named_parameters():
                param.lerp_(source[name], 1 - decay)
        buffers = dict(model.named_buffers())
        for name, buffer in self.model.named_buffers():
            buffer.copy_(buffers[name])

    def state_dict(self):
        return self.model.state_dict()

    def load_state_dict(self, state, step: int) -> None:
        self.model.load_state_dict(state)
        self.step = step
