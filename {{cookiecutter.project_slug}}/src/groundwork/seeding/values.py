"""A seed's values against its columns' types: what PostgreSQL refuses, refused on SQLite too.

SQLite stores what it is given: a value too long for ``String(n)``, outside an ``Enum`` or not
a number at all would go in silently, where PostgreSQL refuses the row. The SQLite loader runs
every value through :func:`converter` (text from CSV is typed on the way), and both loaders
word a bad value with :func:`bad_value`, so that both databases refuse the same rows with the
same message: ``column NAME: VALUE is not ...``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}
# PostgreSQL's integer types (SQLite's INTEGER holds 64 bits whatever the column says).
_RANGES = {SmallInteger: 2**15, BigInteger: 2**63, Integer: 2**31}


class BadValueError(ValueError):
    """A value the column cannot hold; ``kind`` says why (see :func:`bad_value`)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def stored_type(column: Column[Any]) -> TypeEngine[Any]:
    """The column's type as the database stores it: a ``TypeDecorator``'s decorated type.

    SQLModel declares ``str`` fields as its ``AutoString`` (a ``String``) and datetimes as its
    ``UTCDateTime`` (a ``DateTime``): their values are checked and parsed as those types'.
    """
    column_type = column.type
    return column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type


def is_python_type(column: Column[Any], python_type: type) -> bool:
    """Whether the column's stored type holds ``python_type`` values (str: a text column)."""
    try:
        return stored_type(column).python_type is python_type
    except NotImplementedError:
        return False


def type_name(column: Column[Any]) -> str:
    """The column's type as the model declares it, the same words on every database."""
    column_type = stored_type(column)
    if isinstance(column_type, Enum):
        return f"enum {column_type.name or column.name} ({', '.join(column_type.enums)})"
    if isinstance(column_type, Numeric) and column_type.precision is not None:
        scale = column_type.scale or 0
        return f"{type(column_type).__name__}({column_type.precision}, {scale})"
    if isinstance(column_type, String) and column_type.length:
        return f"{type(column_type).__name__}({column_type.length})"
    return type(column_type).__name__


def bad_value(column: Column[Any], value: Any, kind: str = "invalid") -> str:
    """``column NAME: VALUE is not ...``, the message of a value the column cannot hold.

    ``kind``: ``length`` (longer than ``String(n)``), ``enum`` (not one of the Enum's values),
    ``range`` (out of the type's range), anything else: not a valid value of the type.
    """
    shown = repr(value)
    column_type = stored_type(column)
    if kind == "length" and isinstance(column_type, String) and column_type.length:
        reason = f"is longer than the {column_type.length} characters of {type_name(column)}"
    elif kind == "enum" or isinstance(column_type, Enum):
        reason = f"is not one of the values of {type_name(column)}"
    elif kind == "range":
        reason = f"is out of range for {type_name(column)}"
    else:
        reason = f"is not a valid {type_name(column)}"
    return f"column {column.name}: {shown} {reason}"


def _boolean(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValueError("invalid")


def _integer(limit: int | None) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise BadValueError("invalid") from None
        if limit is not None and isinstance(value, int) and not -limit <= value < limit:
            raise BadValueError("range")
        return value

    return convert


def _numeric(precision: int | None, scale: int | None, *, as_decimal: bool) -> Callable[[Any], Any]:
    step = Decimal(1).scaleb(-(scale or 0))
    # As PostgreSQL does: round to the scale; the digits must then fit the precision, which
    # quantize checks itself in a context of that precision (InvalidOperation when they do not).
    fits = Context(prec=precision, rounding=ROUND_HALF_UP, traps=[InvalidOperation])

    def convert(value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            try:
                number = Decimal(value.strip() if isinstance(value, str) else str(value))
            except InvalidOperation:
                raise BadValueError("invalid") from None
        elif isinstance(value, Decimal):
            number = value
        else:
            return value
        if precision is not None:
            try:
                number = number.quantize(step, context=fits)
            except InvalidOperation:
                raise BadValueError("range") from None
        return number if as_decimal else float(number)

    return convert


def _text(length: int | None, choices: tuple[str, ...] | None) -> Callable[[Any], Any] | None:
    if length is None and choices is None:
        return None

    def convert(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value  # a member of the Enum's class: SQLAlchemy stores it as declared
        text = value
        if choices is not None and isinstance(text, str) and text not in choices:
            raise BadValueError("enum")
        if length is not None and isinstance(text, str) and len(text) > length:
            raise BadValueError("length")
        return value

    return convert


def _parsed(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except ValueError:
            raise BadValueError("invalid") from None

    return convert


def converter(column: Column[Any], textual: bool = False) -> Callable[[Any], Any] | None:
    """How a seed's value (text from CSV when ``textual``, or a Python value) becomes this
    column's, refusing what PostgreSQL would (:class:`BadValueError`); None when every value
    goes in as it is."""
    column_type = stored_type(column)
    if isinstance(column_type, JSON):
        # A CSV field '["a"]' is the array, as PostgreSQL's COPY reads it; a string in a JSON
        # file or in rows=... is a JSON string, as on PostgreSQL.
        return _parsed(json.loads) if textual else None
    if isinstance(column_type, Enum):
        return _text(None, tuple(column_type.enums))
    if isinstance(column_type, String):
        return _text(column_type.length, None)
    if isinstance(column_type, Boolean):
        return _boolean
    if isinstance(column_type, Integer):
        limit = next((v for t, v in _RANGES.items() if isinstance(column_type, t)), None)
        return _integer(limit)
    if isinstance(column_type, Float):
        return _parsed(float) if not getattr(column_type, "asdecimal", False) else None
    if isinstance(column_type, Numeric):
        return _numeric(
            column_type.precision,
            column_type.scale,
            as_decimal=bool(getattr(column_type, "asdecimal", True)),
        )
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return None
    parsers: dict[type, Callable[[str], Any]] = {
        dt.datetime: dt.datetime.fromisoformat,
        dt.date: dt.date.fromisoformat,
        dt.time: dt.time.fromisoformat,
        dict: json.loads,
        list: json.loads,
    }
    parse = parsers.get(python_type)
    return _parsed(parse) if parse is not None else None
