"""What the session accepts from the mint: the loader's early request, the answer.

The loader starts the mint before the runtime boots, from the container's attributes as
it read them then; the session carries that request on only when nothing it would have
sent differs, and mints itself otherwise. An answer is used only when its launch URL's
origin may be the embed's.
"""

import json

from meshes_bridge.core.config import ContainerConfig
from meshes_bridge.core.inputs import EarlyMint
from meshes_bridge.core.origins import OriginError, check_embed_origin, split_url
from meshes_bridge.core.responses import ResponseError, Session, parse_session


class MintRefused(Exception):
    """A 2xx answer the session cannot use: `code` is the error code the host sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def is_same_request(early: EarlyMint, config: ContainerConfig) -> bool:
    if early.url.strip() != config.session_url:
        return False
    # The page's URL may have changed since (history.pushState): same resolution too.
    if early.href_now is None or early.href != early.href_now:
        return False
    if early.csrf_cookie != config.csrf_cookie or early.csrf_header != config.csrf_header:
        return False
    if config.csrf_cookie is not None and early.csrf_value != early.cookie_now:
        return False
    try:
        body = json.loads(early.body_text)
    except (ValueError, RuntimeError):
        return False
    return isinstance(body, dict) and body == config.session_body


def accept_session(body: str, config: ContainerConfig) -> "tuple[Session, str]":
    """The session in a 2xx answer and its embed origin; MintRefused if unusable."""
    try:
        session = parse_session(body)
        origin, _ = split_url(session.launch_url)
        check_embed_origin(origin)
    except ResponseError as exc:
        raise MintRefused("mint-invalid", "session response unusable: " + str(exc)) from None
    except OriginError as exc:
        raise MintRefused("launch-url", "launch_url refused: " + exc.message) from None
    embed_origin = origin.serialize()
    if config.embed_origin is not None and embed_origin != config.embed_origin:
        text = "launch_url origin " + embed_origin + " is not data-embed-origin"
        raise MintRefused("embed-origin", text)
    return session, embed_origin
