"""The project's exceptions to the model (``grant_exceptions.py``): read and validated.

The script renders them (render.py, step 9b) and the check verifies them (check.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..errors import TaskError
from ..project import current as current_project
from .prefix import IDENTIFIER, MAX_IDENTIFIER_BYTES


@dataclass(frozen=True)
class Exceptions:
    """APPEND_ONLY tables and HIDDEN_COLUMNS by table, sorted."""

    append_only: list[str]
    hidden: dict[str, list[str]]


def read(module: ModuleType, where: str) -> Exceptions:
    """APPEND_ONLY and HIDDEN_COLUMNS of ``module`` (named ``where`` in messages), validated."""
    append_only = sorted(module.APPEND_ONLY)
    hidden = {t: sorted(cols) for t, cols in sorted(module.HIDDEN_COLUMNS.items())}
    for what, value in [
        *(("APPEND_ONLY table", t) for t in append_only),
        *(("HIDDEN_COLUMNS table", t) for t in hidden),
        *(("HIDDEN_COLUMNS column", c) for cols in hidden.values() for c in cols),
    ]:
        if (
            not isinstance(value, str)
            or not IDENTIFIER.fullmatch(value)
            or len(value) > MAX_IDENTIFIER_BYTES
        ):
            raise TaskError(
                f"{where}: the {what} {value!r} is not a plain lower-case identifier: name the "
                "table or column as the migrations create it"
            )
    return Exceptions(append_only, hidden)


def declared() -> Exceptions:
    """The exceptions of this project's grant_exceptions.py."""
    project = current_project()
    return read(project.grant_exceptions_module(), project.grant_exceptions_file)
