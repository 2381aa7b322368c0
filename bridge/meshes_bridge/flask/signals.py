"""Signals the Flask extension sends (blinker, as Flask's and Flask-Login's own signals).

Each is sent with the Flask app as sender and keyword arguments naming the user key and
session ids, never a token or a launch URL, so a receiver may log them as they are:

    from meshes_bridge.flask import session_minted

    @session_minted.connect_via(app)
    def audit(app, user_key, session_id, **extra): ...
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A session was minted: `user_key`, `session_id`.
session_minted = _signals.signal("meshes-bridge-session-minted")

#: A session's token was refreshed: `user_key`, `session_id`.
session_refreshed = _signals.signal("meshes-bridge-session-refreshed")

#: A user's live sessions were revoked (logout): `user_key`, `count` (how many Meshes revoked).
sessions_revoked = _signals.signal("meshes-bridge-sessions-revoked")

__all__ = ["session_minted", "session_refreshed", "sessions_revoked"]
