"""Import adapters: one per source format, all behind the interface in `base`.

`ADAPTERS` is the registry (name → adapter); `get_adapter` raises a clear error for an unknown name."""

from __future__ import annotations

from pipeline.imports.adapters.actions import SomethingSomethingAdapter
from pipeline.imports.adapters.base import Adapter, ImportInputError
from pipeline.imports.adapters.captioning import (
    ChineseCaptionsAdapter,
    Flickr8kCNAdapter,
    ImageParagraphAdapter,
    MSRVTTCaptionAdapter,
    TextCapsAdapter,
)
from pipeline.imports.adapters.captions import CocoKarpathyAdapter
from pipeline.imports.adapters.classification import ChineseFoodAdapter, ImageFolderAdapter
from pipeline.imports.adapters.coco_tasks import CocoMatchingAdapter, CocoObjectsAdapter, CocoTextAdapter
from pipeline.imports.adapters.compositional import CLEVRAdapter, GQAAdapter, ShapesAdapter
from pipeline.imports.adapters.generation import MMChatAdapter, Multi30kAdapter, VISTAdapter, VisualDialogAdapter
from pipeline.imports.adapters.generic import GenericAdapter
from pipeline.imports.adapters.knowledge import ScienceQAAdapter, ViQuAEAdapter
from pipeline.imports.adapters.m3it import M3ITAdapter
from pipeline.imports.adapters.reasoning import NLVR2Adapter, VCRAdapter
from pipeline.imports.adapters.regions import RegionAdapter
from pipeline.imports.adapters.tasks import TASK_ADAPTERS
from pipeline.imports.adapters.textqa import (
    DocVQAAdapter,
    OCRVQAAdapter,
    STVQAAdapter,
    TextVQAAdapter,
    VisualMRCAdapter,
)
from pipeline.imports.adapters.verdicts import KonIQAdapter, MochegAdapter, SNLIVEAdapter, WinogroundAdapter
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
        # captioning
        TextCapsAdapter(),
        ImageParagraphAdapter(),
        ChineseCaptionsAdapter(),
        Flickr8kCNAdapter(),
        MSRVTTCaptionAdapter(),
        # classification
        CocoObjectsAdapter(),
        CocoTextAdapter(),
        CocoMatchingAdapter(),
        SNLIVEAdapter(),
        MochegAdapter(),
        KonIQAdapter(),
        ChineseFoodAdapter(),
        SomethingSomethingAdapter(),
        WinogroundAdapter(),
        # generation
        VISTAdapter(),
        VisualDialogAdapter(),
        Multi30kAdapter(),
        MMChatAdapter(),
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


def adapter_for_task(task_slug: str) -> Adapter | None:
    """The adapter that reads this registry task's source as published (pipeline.imports.adapters.tasks)."""
    return ADAPTERS.get(TASK_ADAPTERS.get(task_slug, ""))


def tasks_of(adapter_name: str) -> list[str]:
    """The registry tasks whose source this adapter reads."""
    return sorted(slug for slug, name in TASK_ADAPTERS.items() if name == adapter_name)


def file_lines(adapter: Adapter) -> str:
    """The adapter's files as "role=default name" lines, the form's files field format."""
    return "\n".join(f"{spec.role}={spec.default}" for spec in adapter.files)


__all__ = [
    "ADAPTERS",
    "TASK_ADAPTERS",
    "Adapter",
    "ImportInputError",
    "adapter_choices",
    "adapter_for_task",
    "file_lines",
    "get_adapter",
    "tasks_of",
]
