"""Stage II, part one: source datasets into samples.

Does: one adapter per published format (adapters/), a check pass then batched write passes
(importer.py, COPY on PostgreSQL in bulk.py), uploads and zips (uploads.py), pages, API, Celery task.
Reads: source files below IMPORT_ROOT or an upload. Writes: Sample, SampleImage, Image rows; a CSV
of rejected rows.
"""
