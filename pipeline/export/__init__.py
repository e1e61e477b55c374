"""The export: approved splits written in M3IT's published layout.

Does: the record format shared with QC's load check (record.py), the streaming, atomic,
deterministic writer with manifest and dataset card (writer.py), pages, API, the Celery task.
Reads: approved TaskSplits and their samples. Writes: an export folder under EXPORT_ROOT, Export rows.
"""
