"""Statements written out for the rows every mint reads and writes, without the ORM's composing: the
session it runs in, the records of its sources, the audit event and its source rows, and the tokens'
rows written alongside them in the event's transaction.

On a warm mint Django's composing of a statement cost several times the statement itself (see
bench/profile_mint.py), and the audit event's rows are written while the workspace's chain is locked.
`written_insert` writes what `bulk_create` would (each value prepared by its field, `auto_now_add`
and defaults applied by `pre_save` as the ORM applies them), for plain rows: no signals, no
multi-table inheritance, no conflict handling. `Columns` reads what a queryset would: every
concrete column of a model, each value converted by the database backend and the field as the ORM
converts it, into an instance made by `from_db`. Only table and column names from the models' own
`_meta` are ever written into a statement's text; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Generic, TypeVar

from django.db import connection, models

ModelT = TypeVar("ModelT", bound=models.Model)


@dataclass(frozen=True)
class Columns(Generic[ModelT]):
    """Every concrete column of `model`, under `alias` in a written SELECT."""

    model: type[ModelT]
    alias: str
    fields: list[models.Field] = field(init=False, repr=False, compare=False)
    _columns: list[Any] = field(init=False, repr=False, compare=False)  # each field's column, for its converters

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", list(self.model._meta.concrete_fields))
        object.__setattr__(self, "_columns", [one.get_col(self.alias) for one in self.fields])

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def table(self) -> str:
        """`table alias`, for the FROM or JOIN clause."""
        return f"{quote(self.model._meta.db_table)} {quote(self.alias)}"

    def column(self, name: str) -> str:
        """The qualified column of the field `name` (an attribute name such as `workspace` works too)."""
        found = self.model._meta.get_field(name)
        assert (
            isinstance(found, models.Field) and found.column is not None
        )  # a concrete column, not a relation's other side
        return f"{quote(self.alias)}.{quote(found.column)}"

    @cached_property
    def select(self) -> str:
        """The select list, in the order `instance` reads the values."""
        return ", ".join(f"{quote(self.alias)}.{quote(one.column)}" for one in self.fields)

    def instance(self, values: Sequence[Any]) -> ModelT:
        """The instance the ORM would make of these values (in `select`'s order), as read from the database."""
        converted = list(values)
        for index, column, converters in _converters(self, connection.vendor):
            for converter in converters:
                converted[index] = converter(converted[index], column, connection)
        return self.model.from_db(connection.alias, self._attnames, converted)

    @cached_property
    def _attnames(self) -> list[str]:
        return [one.attname for one in self.fields]


@cache
def _converters(columns: Columns[Any], vendor: str) -> list[tuple[int, Any, list[Any]]]:
    """Which values need converting and by what, as the ORM's compiler finds them (its `get_converters`):
    the backend's converters, then the field's. They depend on the backend only (a backend's are bound to
    the connection that found them, and read nothing of it but the settings every connection shares)."""
    found = []
    for index, (one, column) in enumerate(zip(columns.fields, columns._columns, strict=True)):
        converters = connection.ops.get_db_converters(column) + one.get_db_converters(connection)  # type: ignore[attr-defined]  # Django's; its stubs lack it
        if converters:
            found.append((index, column, converters))
    return found


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def written_insert(rows: Sequence[models.Model], *, returning_pk: bool = False) -> list[Any]:
    """One INSERT of `rows` (all of one model) with every column but the key; the new keys, in the
    order of `rows`, when `returning_pk` (which also sets them on the rows)."""
    if not rows:
        return []
    model = type(rows[0])
    if returning_pk and len(rows) > 1:
        raise ValueError("RETURNING gives no order for several rows: insert them one at a time.")
    fields = _insert_fields(model)
    sql = _insert_sql(model, len(rows), returning_pk, connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for row in rows for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [found[0] for found in cursor.fetchall()] if returning_pk else []
    for row, key in zip(rows, keys, strict=False):
        row.pk = key
    for row in rows:
        row._state.adding, row._state.db = False, connection.alias  # saved, as the ORM marks them
    return keys


@cache
def _insert_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@cache
def _insert_sql(model: type[models.Model], count: int, returning_pk: bool, vendor: str) -> str:
    """The INSERT of `count` rows; only the model's own table and column names are written into the
    text, every value is a parameter."""
    meta = model._meta
    fields = _insert_fields(model)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"VALUES {', '.join([one] * count)}"
    )
    if returning_pk:
        assert meta.pk is not None
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql
