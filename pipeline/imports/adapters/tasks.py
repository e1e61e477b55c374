"""Which adapter reads each registry task's source dataset as published (task slug → adapter name).

Data, not code: the import form pre-selects the adapter of the chosen task and lists the files it expects;
a test checks that every task of annotator/m3it_tasks.json has an entry naming a registered adapter."""

from __future__ import annotations

TASK_ADAPTERS: dict[str, str] = {
    # captioning
    "coco": "coco-karpathy",
    "textcap": "textcaps",
    "image-paragraph-captioning": "image-paragraphs",
    # classification
    "coco-goi": "coco-goi",
    "coco-text": "coco-text",
    "imagenet": "image-folder",
    "coco-itm": "coco-itm",
    "snli-ve": "snli-ve",
    "mocheg": "mocheg",
    "iqa": "koniq-iqa",
    # vqa
    "vqa-v2": "vqa-v2",
    "shapes": "shapes",
    "docvqa": "docvqa",
    "ocr-vqa": "ocr-vqa",
    "st-vqa": "st-vqa",
    "text-vqa": "text-vqa",
    "gqa": "gqa",
    # knowledge vqa
    "okvqa": "okvqa",
    "a-okvqa": "a-okvqa",
    "science-qa": "science-qa",
    "viquae": "viquae",
    # reasoning
    "clevr": "clevr",
    "nlvr": "nlvr",
    "vcr": "vcr",
    "visual-mrc": "visual-mrc",
    "winoground": "winoground",
    # generation
    "vist": "vist",
    "visual-dialog": "visual-dialog",
    "multi30k": "multi30k",
    # chinese
    "fm-iqa": "fm-iqa",
    "coco-cn": "coco-cn",
    "flickr8k-cn": "flickr8k-cn",
    "chinese-food": "chinese-food",
    "mmchat": "mmchat",
    # video
    "ss": "something-something",
    "ivqa": "ivqa",
    "msvd-qa": "msvd-qa",
    "activitynet-qa": "activitynet-qa",
    "msrvtt-qa": "video-qa",
    "msrvtt": "msrvtt-captions",
}


def adapter_name_for(task_slug: str) -> str | None:
    return TASK_ADAPTERS.get(task_slug)
