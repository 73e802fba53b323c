"""Process-group helpers for ranks started by the TypeScript launcher.

Each rank is its own process with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in
its environment (the launcher replaces torchrun, whose Debian build fails on Python 3.11).
CPU ranks use ``gloo``, GPU ranks ``nccl`` with one device per LOCAL_RANK. A world of one
process creates no process group, so single-process runs need no free port.
"""
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from error


def init_distributed(device_kind: str = "cpu", timeout_s: float = 600.0) -> DistContext:
    """Join the process group described by the environment (or none for one process)."""
    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", rank)
    if device_kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was requested but torch.cuda.is_available() is False; use --device cpu")
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"rank {rank} needs GPU {local_rank} but only {torch.cuda.device_count()} are visible; "
                "lower --ranks or set CUDA_VISIBLE_DEVICES")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1:
        backend = "nccl" if device_kind == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def all_reduce_mean(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of ``values`` over ranks, as a new CPU tensor (NCCL reduces only GPU tensors)."""
    result = values.detach().to(ctx.device, copy=True)
    if ctx.distributed:
        dist.all_reduce(result, op=dist.ReduceOp.SUM)
        result /= ctx.world_size
    return result.cpu()


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True when ``flag`` is set on at least one rank, so every rank takes the same branch."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def all_gather_objects(value, ctx: DistContext) -> list:
    if not ctx.distributed:
        return [value]
    gathered = [None] * ctx.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
