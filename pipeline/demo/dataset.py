"""A small demo dataset drawn on the fly with Pillow: coloured shapes for a VQA task and a
captioning task, so every page of a fresh install has real images, samples and a live job."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 70), "blue": (40, 80, 220), "yellow": (230, 200, 40)}
SHAPES = ("circle", "square", "triangle")

DEMO_INSTRUCTIONS = {
    "shapes": [
        "Look at the picture and answer the question about the shapes in it.",
        "Answer the question below using what you can see in the image.",
        "Study the coloured shapes in the image, then reply to the question.",
        "Based on the image, give a short, accurate answer to the following question.",
        "Examine the figure carefully and respond to the question about its shapes and colours.",
        "Using only the visual content, answer this question about the drawing.",
        "The image contains simple geometric shapes. Answer the question that follows.",
        "Inspect the image and tell me the answer to the question.",
        "Read the question, look at the shapes, and answer in a complete sentence.",
        "Given this synthetic picture of shapes, what is the answer to the question?",
    ],
    "coco": [
        "Write a short caption that describes the image.",
        "Describe what you see in this picture in one sentence.",
        "Give a concise description of the main objects in the image.",
        "Provide a one-sentence caption for the photo.",
        "Summarise the content of the image in a brief sentence.",
        "What does this image show? Answer with a caption.",
        "Generate a caption that a person might write for this image.",
        "Tell me, in a few words, what is depicted here.",
        "Compose a descriptive sentence about the scene in the image.",
        "Caption this image as accurately as you can.",
    ],
}


@dataclass(frozen=True)
class DemoRecord:
    source_id: str
    image_png: bytes
    inputs: str
    original_output: str
    meta: dict


def _draw(shapes: list[tuple[str, str, tuple[int, int]]], size: int = 128) -> bytes:
    img = PILImage.new("RGB", (size, size), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    r = size // 6
    for shape, colour, (cx, cy) in shapes:
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLOURS[colour]
        if shape == "circle":
            draw.ellipse(box, fill=fill)
        elif shape == "square":
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _scene(rng: random.Random) -> list[tuple[str, str, tuple[int, int]]]:
    spots = [(32, 32), (96, 32), (32, 96), (96, 96)]
    rng.shuffle(spots)
    return [(rng.choice(SHAPES), rng.choice(list(COLOURS)), spots[i]) for i in range(rng.randint(1, 3))]


def shapes_vqa_record(index: int, seed: int = 0) -> DemoRecord:
    rng = random.Random(seed * 1_000_003 + index)
    scene = _scene(rng)
    shape, colour, _ = rng.choice(scene)
    kind = rng.randrange(3)
    if kind == 0:
        question, answer = f"What colour is the {shape}?", colour
    elif kind == 1:
        probe = rng.choice(list(COLOURS))
        question = f"Is there a {probe} {shape}?"
        answer = "yes" if any(s == shape and c == probe for s, c, _ in scene) else "no"
    else:
        question, answer = "How many shapes are there?", str(len(scene))
    return DemoRecord(
        source_id=f"shapes-{seed}-{index:06d}",
        image_png=_draw(scene),
        inputs=question,
        original_output=answer,
        meta={
            "source_dataset": "demo-shapes",
            "image_id": f"shapes_{index:06d}",
            "scene": [[s, c] for s, c, _ in scene],
        },
    )


def shapes_caption_record(index: int, seed: int = 0) -> DemoRecord:
    rng = random.Random(seed * 7_000_001 + index)
    scene = _scene(rng)
    parts = [f"a {c} {s}" for s, c, _ in scene]
    caption = (", ".join(parts[:-1]) + " and " + parts[-1]) if len(parts) > 1 else parts[0]
    return DemoRecord(
        source_id=f"caption-{seed}-{index:06d}",
        image_png=_draw(scene),
        inputs="",
        original_output=f"{caption[0].upper()}{caption[1:]} on a light grey background.",
        meta={"source_dataset": "demo-shapes-captions", "image_id": f"caption_{index:06d}"},
    )
