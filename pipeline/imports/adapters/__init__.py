"""Import adapters: one per source format, all behind the interface in `base`.

`ADAPTERS` is the registry (name → adapter); `get_adapter` raises a clear error for an unknown name."""

from __future__ import annotations

from pipeline.imports.adapters.base import Adapter, ImportInputError
from pipeline.imports.adapters.captions import CocoKarpathyAdapter
from pipeline.imports.adapters.classification import ImageFolderAdapter
from pipeline.imports.adapters.compositional import CLEVRAdapter, GQAAdapter, ShapesAdapter
from pipeline.imports.adapters.generic import GenericAdapter
from pipeline.imports.adapters.knowledge import ScienceQAAdapter, ViQuAEAdapter
from pipeline.imports.adapters.m3it import M3ITAdapter
from pipeline.imports.adapters.reasoning import NLVR2Adapter, VCRAdapter
from pipeline.imports.adapters.regions import RegionAdapter
from pipeline.imports.adapters.textqa import (
    DocVQAAdapter,
    OCRVQAAdapter,
    STVQAAdapter,
    TextVQAAdapter,
    VisualMRCAdapter,
)
from pipeline.imports.adapters.video import ActivityNetQAAdapter, IVQAAdapter, MSVDQAAdapter, VideoQAAdapter
from pipeline.imports.adapters.vqa import AOKVQAAdapter, FMIQAAdapter, OKVQAAdapter, VQAv2Adapter

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
        # VQA
        DocVQAAdapter(),
        STVQAAdapter(),
        TextVQAAdapter(),
        OCRVQAAdapter(),
        GQAAdapter(),
        ShapesAdapter(),
        FMIQAAdapter(),
        # knowledge and reasoning
        ScienceQAAdapter(),
        ViQuAEAdapter(),
        CLEVRAdapter(),
        NLVR2Adapter(),
        VCRAdapter(),
        VisualMRCAdapter(),
        # video QA
        IVQAAdapter(),
        MSVDQAAdapter(),
        ActivityNetQAAdapter(),
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
