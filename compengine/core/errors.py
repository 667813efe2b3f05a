"""Where things come from, and errors as data.

Every record read from a file carries a :class:`Source`; every problem found in
input is a :class:`CompError` (a value, collected in lists) printed as
``file:line: field: message``. :class:`CompErrors` wraps a list of them when a
caller has to stop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    file: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
        return out

    def at(self, field: str) -> Source:
        return Source(self.file, self.line, field)


@dataclass(frozen=True, slots=True)
class CompError:
    source: Source | None
    message: str

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        where = str(self.source)
        if self.source.field:
            return f"{where}: {self.source.field}: {self.message}"
        return f"{where}: {self.message}"


class CompErrors(Exception):
    """Raised at an edge with every error found, not only the first."""

    def __init__(self, errors: list[CompError] | CompError | str, *, headline: str | None = None) -> None:
        if isinstance(errors, str):
            errors = [CompError(None, errors)]
        elif isinstance(errors, CompError):
            errors = [errors]
        self.errors = list(errors)
        self.headline = headline  # one line that sums the errors up (else a count of input errors)
        super().__init__(self.summary())

    def summary(self) -> str:
        if not self.errors:
            return "no errors"
        first = str(self.errors[0])
        more = len(self.errors) - 1
        return first if more == 0 else f"{first} (and {more} more error{'s' if more > 1 else ''})"

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
