"""A tiny immutable-value base: dataclasses and enum do not exist on MicroPython."""


class Value:
    """Equality and repr from the names in `_fields`, so tests compare plain values."""

    _fields: "tuple[str, ...]" = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        for name in self._fields:
            if getattr(self, name) != getattr(other, name):
                return False
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + tuple(repr(getattr(self, n)) for n in self._fields))

    def __repr__(self) -> str:
        parts: list[str] = []
        for name in self._fields:
            parts.append(name + "=" + repr(getattr(self, name)))
        return type(self).__name__ + "(" + ", ".join(parts) + ")"
