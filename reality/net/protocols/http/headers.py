"""HTTP header fields: an ordered, case-insensitive multi-dict (RFC 9110 §5).

:class:`Headers` holds request fields as the parser found them (names
lower-cased, values stripped of surrounding whitespace) and a response's
fields as a handler wrote them. Field syntax is checked where bytes are
read (:mod:`.parser`) and written (:mod:`.writer`), not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["Headers", "HeadersLike", "to_headers"]


class Headers:
    """Header fields: an ordered, case-insensitive multi-dict of ``str``.

    ``get`` gives the first value, ``get_all`` every value, ``get_joined``
    the values combined with ", " (RFC 9110 §5.3). Names keep the case they
    were given (request headers arrive lower-cased from the parser).
    """

    __slots__ = ("_fields", "_version")

    def __init__(
        self, fields: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    ) -> None:
        # Each field is (lower-case name, name as given, value).
        self._fields: list[tuple[str, str, str]] = []
        # Bumped on every change so a writer can cache its encoding safely.
        self._version = 0
        if fields is None:
            return
        if isinstance(fields, Headers):
            self._fields = list(fields._fields)
            return
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        for name, value in pairs:
            self._fields.append((name.lower(), name, value))

    @classmethod
    def _from_lowered(cls, fields: list[tuple[str, str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._version = 0
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for lower, _, value in self._fields:
            if lower == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [value for lower, _, value in self._fields if lower == key]

    def get_joined(self, name: str, default: str | None = None) -> str | None:
        """All values of ``name`` joined with ", ", or ``default`` if absent."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(lower == key for lower, _, _ in self._fields)

    def __iter__(self) -> Iterator[str]:
        """Field names, in order (repeated names repeat)."""
        return (name for _, name, _ in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs, in order."""
        return [(name, value) for _, name, value in self._fields]

    def add(self, name: str, value: str) -> None:
        """Append a field (keeping any existing ones of that name)."""
        self._fields.append((name.lower(), name, value))
        self._version += 1

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` with one of this value."""
        self.remove(name)
        self.add(name, value)

    def set_default(self, name: str, value: str) -> str:
        """Add ``name: value`` unless ``name`` is present; return its first value."""
        existing = self.get(name)
        if existing is not None:
            return existing
        self.add(name, value)
        return value

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (nothing happens if there is none)."""
        key = name.lower()
        self._fields = [f for f in self._fields if f[0] != key]
        self._version += 1

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return [(k, v) for k, _, v in self._fields] == [(k, v) for k, _, v in other._fields]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None


def to_headers(value: HeadersLike) -> Headers:
    """``value`` as :class:`Headers` (itself when it already is one)."""
    if type(value) is Headers:
        return value
    return Headers(value)
