"""Two imports of the same split at once (PostgreSQL, COPY): the second skips what the first wrote."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from pipeline.imports import importer as importer_module
from pipeline.models import Sample
from tests.pipeline.imports.files import importer_for, write_image, write_jsonl
from tests.qc.test_lock_order import needs_postgresql

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_second_of_two_simultaneous_imports_skips_instead_of_failing(import_root, tasks, monkeypatch):
    needs_postgresql()
    write_image(import_root / "g" / "images" / "a.png")
    rows = [{"id": f"r{i}", "image": "a.png", "output": "x"} for i in range(5)]
    write_jsonl(import_root / "g" / "records.jsonl", rows)

    first_inserted = threading.Event()
    real_insert_rows = importer_module.insert_rows

    def insert_rows(objs):  # the first import keeps its batch uncommitted for a moment after its COPY
        real_insert_rows(objs)
        if threading.current_thread().name == "first" and type(objs[0]).__name__ == "SampleImage":
            first_inserted.set()
            time.sleep(1.0)  # the second import reads "nothing there yet" and its COPY waits for this one

    monkeypatch.setattr(importer_module, "insert_rows", insert_rows)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            if name == "second":
                assert first_inserted.wait(10)
            outcomes[name] = importer_for("generic", "gqa", "val", "g").run()
        except BaseException as exc:
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first, second = outcomes["first"], outcomes["second"]
    assert not isinstance(second, BaseException), repr(second)
    assert (first.created, second.created, second.skipped) == (5, 0, 5)
    assert Sample.objects.count() == 5
