"""A translated task with evaluation samples drawn from its instruction pool (what Stage IV reads)."""

from __future__ import annotations

from annotator.models import Instruction, Task

from ...factories import SampleFactory, TaskFactory

POOL = ["Answer the question about the image.", "Look at the picture and answer.", "Reply briefly:"]
QUESTIONS = ["What is the colour of the car?", "How many dogs are there?\n(A) two\n(B) three", "Is it red?"]
ANSWERS = ["red", "(A) two", "yes"]
PLACES = ["street", "kitchen", "park", "room", "garden", "station", "market", "beach", "field", "shop", "lake", "farm"]


def translated_task(slug: str = "okvqa-t", val: int = 9, test: int = 3, approved: bool = False) -> Task:
    task = TaskFactory(slug=slug, translated=True)
    pool = [Instruction.objects.create(task=task, text=text, position=i) for i, text in enumerate(POOL)]
    for split, n in (("val", val), ("test", test), ("train", 2)):
        for i in range(n):
            SampleFactory(
                task=task,
                split=split,
                source_id=f"{split}-{i}",
                instruction=pool[i % len(pool)],
                inputs=f"In the {PLACES[i % len(PLACES)]}: {QUESTIONS[i % len(QUESTIONS)]}",
                outputs=ANSWERS[i % len(ANSWERS)],
            )
    if approved:
        task.splits.update(qc_status="approved")
    return task
