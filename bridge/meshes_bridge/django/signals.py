"""Django signals for what the bridge did, sent with `EmbedService` as the sender and
keyword arguments naming the user key and ids, never a token or a launch URL:

    from django.dispatch import receiver
    from meshes_bridge.django.signals import session_minted

    @receiver(session_minted)
    def audit(sender, user_key, session_id, **kwargs): ...

They are the service's hooks (`meshes_bridge.server.service.Hooks`) in Django's idiom; a
failing receiver is logged and cannot undo a mint or stop a logout.
"""

from __future__ import annotations

from django.dispatch import Signal

from meshes_bridge.server.service import EmbedService

#: A session was minted: `user_key`, `session_id`.
session_minted = Signal()

#: A session's token was refreshed: `user_key`, `session_id`.
session_refreshed = Signal()

#: A user's live sessions were revoked (logout): `user_key`, `count` (how many Meshes revoked).
sessions_revoked = Signal()


def connect(service: EmbedService) -> None:
    """Send these signals from `service`'s hooks."""
    service.hooks.minted.append(lambda **kw: session_minted.send(EmbedService, **kw))
    service.hooks.refreshed.append(lambda **kw: session_refreshed.send(EmbedService, **kw))
    service.hooks.revoked.append(lambda **kw: sessions_revoked.send(EmbedService, **kw))


__all__ = ["connect", "session_minted", "session_refreshed", "sessions_revoked"]
