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
