"""Who is asking: one rule, for every adapter, for a logged-in user's key.

The key is what Meshes sees as `external_user_id`, what a session is bound to, what the
rate limits count and what logout revokes; so it must be the same for the same user every
time, and never anything an anonymous visitor can share with another.

* A user object whose `is_authenticated` is false (Django's `AnonymousUser`, Flask-Login's
  anonymous user, Starlette's `UnauthenticatedUser`) is anonymous, and so is `None`.
* The key comes from the host's key callable when it gave one, else from a stable
  identity: `id`, `pk`, `get_id()`, Starlette's `identity`, in that order (a "user" that
  is already a str, int or UUID is its own key).
* Only a non-empty `str`, an `int` (not a `bool`) or a `uuid.UUID` is a key (the last two as
  their text). `None`, `False` and `""` mean anonymous; anything else (`True`, a float, an
  object that would fall back to its `repr`) is the host's mistake and raises
  `UserKeyError` naming the option to set, rather than become a key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

#: What a key callable takes and returns (the host's `user_key=` / MESHES_BRIDGE_USER_KEY).
KeyFunction = Callable[[Any], object]

# The attributes read, in order, when the host gave no key callable. `identity` is
# Starlette's (SimpleUser: the username); its base class raises NotImplementedError.
_IDENTITY_ATTRIBUTES = ("id", "pk", "get_id", "identity")
MAX_KEY_CHARS = 255


class UserKeyError(TypeError):
    """The host's user (or its key callable) gave no usable key: a set-up mistake, named
    with the option that fixes it. Its text never holds the user object's `repr`."""


def normalize_key(value: object, option: str) -> str | None:
    """`value` as a key: None when it means anonymous, else its text. `option` names what
    the host sets to fix a bad value (in the `UserKeyError`)."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, bool):  # True: `return logged_in or user_id` gone wrong
        raise UserKeyError(f"the user key is True, not an id: check {option}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        if len(value) > MAX_KEY_CHARS or not value.isprintable():
            raise UserKeyError(
                f"the user key must be printable text of at most {MAX_KEY_CHARS} "
                f"characters: check {option}"
            )
        return value
    raise UserKeyError(
        f"the user key is a {type(value).__name__}, not a str, int or UUID: set {option}"
    )


def is_anonymous(user: object) -> bool:
    """True for None and for any user object whose `is_authenticated` is false."""
    if user is None:
        return True
    flag = getattr(user, "is_authenticated", True)
    if callable(flag):  # an old-style method rather than a property
        flag = flag()
    return not flag


def stable_identity(user: object, option: str) -> object:
    """The first of `id`, `pk`, `get_id()`, `identity` the user has (not yet normalized),
    or the user itself when it is a str, int or UUID; `UserKeyError` naming `option`
    when it has none of them."""
    if isinstance(user, str | int | uuid.UUID):
        return user
    for name in _IDENTITY_ATTRIBUTES:
        try:
            value = getattr(user, name)
        except (AttributeError, NotImplementedError):
            continue
        if callable(value):
            value = value()
        if value is not None:
            return value
    raise UserKeyError(
        f"cannot tell which user this is: a {type(user).__name__} has no id, pk, get_id() "
        f"or identity; set {option}"
    )


def user_key(user: object, key: KeyFunction | None = None, *, option: str) -> str | None:
    """The key of a framework's user object (None = anonymous). `key` is the host's key
    callable, if any; `option` names it (or where to give one) for `UserKeyError`."""
    if is_anonymous(user):
        return None
    value = key(user) if key is not None else stable_identity(user, option)
    return normalize_key(value, option)


__all__ = [
    "KeyFunction",
    "UserKeyError",
    "is_anonymous",
    "normalize_key",
    "stable_identity",
    "user_key",
]
