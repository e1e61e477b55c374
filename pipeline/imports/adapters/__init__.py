"""Import adapters: one per source format, all behind the interface in `base`.

`ADAPTERS` is the registry (name → adapter); `get_adapter` raises a clear error for an unknown name."""

from __future__ import annotations

from pipeline.imports.adapters.base import Adapter, ImportInputError
from pipeline.imports.adapters.captions import CocoKarpathyAdapter
from pipeline.imports.adapters.classification import ImageFolderAdapter
from pipeline.imports.adapters.generic import GenericAdapter
from pipeline.imports.adapters.m3it import M3ITAdapter
from pipeline.imports.adapters.regions import RegionAdapter
from pipeline.imports.adapters.video import VideoQAAdapter
from pipeline.imports.adapters.vqa import AOKVQAAdapter, OKVQAAdapter, VQAv2Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        CocoKarpathyAdapter(),
        VQAv2Adapter(),
        OKVQAAdapter(),
        AOKVQAAdapter(),
        ImageFolderAdapter(),
        RegionAdapter(),
        VideoQAAdapter(),
        M3ITAdapter(),
        GenericAdapter(),
    )
}


def get_adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ImportInputError(f"unknown adapter {name!r}; choose one of: {', '.join(ADAPTERS)}") from None


def adapter_choices() -> list[tuple[str, str]]:
    return [(name, adapter.label) for name, adapter in ADAPTERS.items()]


__all__ = ["ADAPTERS", "Adapter", "ImportInputError", "adapter_choices", "get_adapter"]
