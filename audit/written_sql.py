"""INSERT statements written out for the rows every mint writes, without the ORM's composing: the
audit event and its source rows, and the tokens' rows written alongside them in the event's transaction.

On a warm mint Django's composing of a statement cost several times the statement itself (see
bench/profile_mint.py), and the audit event's rows are written while the workspace's chain is locked.
`written_insert` writes what `bulk_create` would (each value prepared by its field, `auto_now_add`
and defaults applied by `pre_save` as the ORM applies them), for plain rows: no signals, no
multi-table inheritance, no conflict handling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def written_insert(rows: Sequence[models.Model], *, returning_pk: bool = False) -> list[Any]:
    """One INSERT of `rows` (all of one model) with every column but the key; the new keys, in the
    order of `rows`, when `returning_pk` (which also sets them on the rows)."""
    if not rows:
        return []
    meta = type(rows[0])._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Only the model's own table and column names are written into the text; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"VALUES {', '.join([one] * len(rows))}"
    )
    if returning_pk:
        assert meta.pk is not None
        if len(rows) > 1:
            raise ValueError("RETURNING gives no order for several rows: insert them one at a time.")
        sql += f" RETURNING {quote(meta.pk.column)}"
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for row in rows for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [found[0] for found in cursor.fetchall()] if returning_pk else []
    for row, key in zip(rows, keys, strict=False):
        row.pk = key
    for row in rows:
        row._state.adding, row._state.db = False, connection.alias  # saved, as the ORM marks them
    return keys
