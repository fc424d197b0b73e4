"""Accelerator entries: datasheet peaks, derated (achievable) fractions, power, clocks and price."""

from __future__ import annotations

from typing import Literal

from costcorrect.catalog.base import (
    Bytes,
    BytesPerSecond,
    CatalogEntry,
    FlopPerSecond,
    Fraction,
    Hertz,
    Sourced,
    UsdPerSecond,
    Watts,
)

Dtype = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4"]


class Hardware(CatalogEntry):
    """One accelerator type. All values SI: bytes, bytes/s, FLOP/s (dense), W, Hz, USD/s.

    ``flops_per_s`` are datasheet *dense* tensor-core peaks per dtype (sparsity excluded);
    ``achievable_*_fraction`` are measured/derated fractions of the datasheet peaks.
    Link bandwidths are per GPU and per direction.
    """

    vendor: str
    form_factor: str
    gpus_per_node: int = 8
    memory_bytes: Sourced[Bytes]
    hbm_bytes_per_s: Sourced[BytesPerSecond]
    flops_per_s: dict[Dtype, Sourced[FlopPerSecond]]
    intra_node_link: Literal["nvlink", "infinity-fabric", "pcie"]
    intra_node_bytes_per_s: Sourced[BytesPerSecond]
    inter_node_bytes_per_s: Sourced[BytesPerSecond]
    #: the node's switch reduces all-reduce traffic in-network (NVLink SHARP, third-generation
    #: NVSwitch and later; NCCL's NVLS algorithm): each GPU sends and receives a message once
    switch_reduce: bool = False
    pcie_bytes_per_s: Sourced[BytesPerSecond]
    tdp_w: Sourced[Watts]
    idle_power_w: Sourced[Watts]
    sm_clock_min_hz: Sourced[Hertz]
    sm_clock_max_hz: Sourced[Hertz]
    price_usd_per_s: Sourced[UsdPerSecond]
    achievable_flops_fraction: Sourced[Fraction]
    achievable_hbm_fraction: Sourced[Fraction]

    def tensor_dtype(self, dtype: str) -> str:
        """The tensor-core format ``dtype`` runs in here: itself where supported, else FP4 on
        FP8 cores, else the 16-bit rate."""
        if dtype in self.flops_per_s:
            return dtype
        if dtype == "fp4" and "fp8" in self.flops_per_s:
            return "fp8"
        return "bf16"

    def peak_flops(self, dtype: str) -> float:
        """Dense peak FLOP/s of ``dtype`` (of the format it runs in, see :meth:`tensor_dtype`)."""
        return self.flops_per_s[self.tensor_dtype(dtype)].value  # type: ignore[index]

    @property
    def price_usd_per_hour(self) -> float:
        return self.price_usd_per_s.value * 3600.0
