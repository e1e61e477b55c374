"""Stage II and the export, one package per step (see the README's Architecture section).

jobs/ (the Job mechanism), media/ (images, video frames, boxes), imports/ (adapters, importer),
samples/ (browsing, instruction draws), paraphrase/ (LLM rewrites of short answers), translation/
(Stage IV), export/ (the M3IT layout), demo/ (the demo dataset). Models live in pipeline/models.py.
"""

# Steps with pages (urls.py) and Celery tasks (tasks.py); config reads this list for both.
STEPS = ("jobs", "media", "imports", "samples", "paraphrase", "translation", "export", "demo")
