"""Bulk inserts for imports: PostgreSQL's COPY where the database is PostgreSQL, bulk_create elsewhere.

Django 5.2's bulk_create on PostgreSQL builds one array per column in Python (UNNEST), which is where
an import of small rows spent half its time; COPY streams the rows instead. Primary keys are taken
from the table's sequence first, so callers get the same objects with their ids set either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def insert_rows(objs: Sequence[Model]) -> None:
    """Insert unsaved instances of one model and set their primary keys (inside the caller's transaction)."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model.objects.using(alias).bulk_create(objs)
        return
    meta = model._meta
    fields = list(meta.concrete_fields)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, meta.pk.attname, pk)
        columns = ", ".join(quote(field.column) for field in fields)
        # COPY runs on psycopg's own cursor, outside Django's error wrapping: wrap it, so a unique
        # violation (another import of the same split committed first) is Django's IntegrityError and
        # the importer's retry sees it.
        with connection.wrap_database_errors, cursor.cursor.copy(
            f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        ) as copy:
            for obj in objs:
                copy.write_row([field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


# An import that adds more than this share of a table's rows runs ANALYZE on it.
ANALYZE_GROWTH = 0.2


def estimated_rows(model: type[Model]) -> int | None:
    """The planner's row estimate of the model's table (pg_class.reltuples), None off PostgreSQL.

    -1 (never analysed) reads as 0: any import into such a table is a large share of it."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def analyze_if_grown(model: type[Model], before: int | None, added: int) -> bool:
    """ANALYZE the model's table when `added` rows are a large share of the `before` estimate, so the
    planner does not plan against the old statistics until autovacuum comes by. Returns whether it ran."""
    if before is None or added <= 0 or added < ANALYZE_GROWTH * before:
        return False
    connection = connections[router.db_for_write(model)]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return True
