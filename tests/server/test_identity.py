"""Who is logged in, the same on every adapter (`meshes_bridge.server.identity`).

Anonymous is None, a user whose `is_authenticated` is false, or a key of None, False or "";
a key is a stable identity (id, pk, get_id(), Starlette's identity, a key callable), never
an object's repr; a user with none is a set-up error naming the option. Meshes is the fake
management API over real HTTP.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from flask import Flask, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from meshes_bridge.fastapi import MeshesBridge as FastAPIBridge
from meshes_bridge.flask import MeshesBridge as FlaskBridge
from meshes_bridge.server import MeshesSettings
from meshes_bridge.server.identity import UserKeyError, normalize_key, user_key
from meshes_bridge.server.service import EndpointRequest
from meshes_bridge.testing.doubles import Servers

OPTION = "user_key="
JSON = "application/json"


# -- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, False, ""])
def test_falsy_keys_are_anonymous(value: object) -> None:
    assert normalize_key(value, OPTION) is None
    assert EndpointRequest(value, None, JSON).user_key is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "key"),
    [("alice", "alice"), (0, "0"), (42, "42"), (uuid.UUID(int=7), str(uuid.UUID(int=7)))],
)
def test_keys_are_text_ints_and_uuids(value: object, key: str) -> None:
    assert normalize_key(value, OPTION) == key


@pytest.mark.parametrize("value", [True, 1.5, object(), b"alice", "a\nb", "x" * 256])
def test_anything_else_is_an_error_naming_the_option(value: object) -> None:
    with pytest.raises(UserKeyError) as caught:
        normalize_key(value, OPTION)
    assert OPTION in str(caught.value)
    assert "object at 0x" not in str(caught.value)


class Anonymous:
    is_authenticated = False
    id = "would-be-key"


class NoIdentity:
    is_authenticated = True


@dataclass
class WithPk:
    pk: int
    is_authenticated: bool = True


def test_users_give_their_stable_identity() -> None:
    assert user_key(None, option=OPTION) is None
    assert user_key(Anonymous(), option=OPTION) is None
    assert user_key(SimpleUser("carol"), option=OPTION) == "carol"  # Starlette's identity
    assert user_key(WithPk(5), option=OPTION) == "5"
    assert user_key(NoIdentity(), lambda u: "k-1", option=OPTION) == "k-1"
    with pytest.raises(UserKeyError) as caught:
        user_key(NoIdentity(), option=OPTION)
    assert OPTION in str(caught.value) and "0x" not in str(caught.value)


# -- FastAPI with Starlette's own authentication -----------------------------------------


class HeaderAuth(AuthenticationBackend):
    """Starlette authentication: `X-User: name` is a SimpleUser; no header, anonymous
    (`request.user` is then Starlette's UnauthenticatedUser, which is not None)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.headers.get("x-user")
        return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None


class Nameless(BaseUser):
    """An authenticated user with no id, pk, get_id() or identity."""

    @property
    def is_authenticated(self) -> bool:
        return True


def starlette_app(settings: MeshesSettings, user_of: Any = None) -> tuple[FastAPI, FastAPIBridge]:
    bridge = FastAPIBridge(settings, get_user=user_of or (lambda request: request.user))
    app = FastAPI()
    app.add_middleware(AuthenticationMiddleware, backend=HeaderAuth())
    app.include_router(bridge.router)
    return app, bridge


def post(client: TestClient, path: str, user: str | None, origin: str) -> Any:
    headers = {"Content-Type": JSON, "Origin": origin, **({"X-User": user} if user else {})}
    return client.post(path, content=b"{}", headers=headers)


@pytest.fixture
def starlette_settings(meshes: Servers) -> MeshesSettings:
    return MeshesSettings.from_env({**meshes.meshes_env(), "MESHES_ALLOWED_ORIGINS": ORIGIN})


ORIGIN = "http://testserver"


def request_user(request: Request) -> Any:
    return request.user


@pytest.mark.parametrize("get_user", [lambda request: request.user, request_user])
def test_starlette_anonymous_user_is_refused(
    meshes: Servers, starlette_settings: MeshesSettings, get_user: Any
) -> None:
    app, _bridge = starlette_app(starlette_settings, get_user)
    client = TestClient(app)
    for path in ("/meshes/session", "/meshes/session/sess_x/refresh"):
        answer = post(client, path, None, ORIGIN)
        assert (answer.status_code, answer.json()) == (401, {"error": "login-required"})
    assert meshes.api.calls("create") == []


def test_starlette_simple_user_is_keyed_by_identity(
    meshes: Servers, starlette_settings: MeshesSettings
) -> None:
    app, bridge = starlette_app(starlette_settings)
    client = TestClient(app)
    minted = post(client, "/meshes/session", "carol", ORIGIN)
    assert minted.status_code == 200, minted.text
    assert meshes.api.calls("create")[-1].body["external_user_id"] == "carol"
    session_id = minted.json()["session_id"]
    # The owner's own refresh works (the key is stable, not an address); no one else's.
    assert post(client, f"/meshes/session/{session_id}/refresh", "carol", ORIGIN).status_code == 200
    assert post(client, f"/meshes/session/{session_id}/refresh", "dave", ORIGIN).status_code == 404
    # Logout with the key, or with the user object itself, finds the session.
    assert bridge.revoke_user(SimpleUser("carol")) == 1
    assert meshes.api.revoked_ids() == [session_id]


def test_starlette_user_without_identity_is_an_error_naming_the_option(
    meshes: Servers, starlette_settings: MeshesSettings, caplog: pytest.LogCaptureFixture
) -> None:
    app, _bridge = starlette_app(starlette_settings, user_of=lambda request: Nameless())
    with caplog.at_level(logging.ERROR, logger="meshes_bridge"):
        answer = post(TestClient(app), "/meshes/session", None, ORIGIN)
    assert (answer.status_code, answer.json()) == (500, {"error": "internal"})
    assert answer.headers["cache-control"] == "no-store"
    assert "user_key=" in caplog.text and "0x" not in caplog.text
    assert meshes.api.calls("create") == []


# -- Flask: a falsy @user_loader key, and logout under the loader's key ------------------


FLASK_ORIGIN = "http://localhost"


class LoginUser(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def flask_app(meshes: Servers, bridge: FlaskBridge) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret-key-for-cookies", TESTING=True)
    app.config.update(meshes.meshes_env())
    app.config.update(MESHES_ALLOWED_ORIGINS=FLASK_ORIGIN, MESHES_BRIDGE_REDIS_URL="")
    manager = LoginManager(app)
    manager.user_loader(LoginUser)

    @app.get("/test-login/<name>")
    def test_login(name: str) -> str:
        login_user(LoginUser(name))
        return "ok"

    @app.post("/test-logout")
    def test_logout() -> str:
        logout_user()
        return "bye"

    bridge.init_app(app)
    return app


def flask_post(client: Any, path: str) -> Any:
    headers = {"Content-Type": JSON, "Origin": FLASK_ORIGIN}
    return client.post(path, data=json.dumps({}), headers=headers)


def test_flask_user_loader_returning_false_is_anonymous(meshes: Servers) -> None:
    bridge = FlaskBridge()

    @bridge.user_loader
    def key() -> object:
        logged_in = bool(session.get("uid"))
        return logged_in and session["uid"]  # False for every anonymous visitor

    app = flask_app(meshes, bridge)
    visitor_a, visitor_b = app.test_client(), app.test_client()
    answer = flask_post(visitor_a, "/meshes/session")
    assert (answer.status_code, answer.get_json()) == (401, {"error": "login-required"})
    assert meshes.api.calls("create") == []
    assert flask_post(visitor_b, "/meshes/session/sess_any/refresh").status_code == 401


@pytest.fixture(params=["no-argument", "user-argument"])
def loader_bridge(request: pytest.FixtureRequest) -> Iterator[FlaskBridge]:
    """A bridge whose @user_loader keys users as "acct-<id>" (not get_id()), in both forms."""
    bridge = FlaskBridge()
    if request.param == "no-argument":

        @bridge.user_loader
        def key() -> str | None:
            return f"acct-{current_user.id}" if current_user.is_authenticated else None

    else:

        @bridge.user_loader
        def key_of(user: Any) -> str | None:
            return f"acct-{user.id}" if user is not None and user.is_authenticated else None

    yield bridge


def test_flask_logout_revokes_what_the_user_loader_bound(
    meshes: Servers, loader_bridge: FlaskBridge
) -> None:
    app = flask_app(meshes, loader_bridge)
    alice, bob = app.test_client(), app.test_client()
    alice.get("/test-login/alice")
    bob.get("/test-login/bob")
    alice_ids = [flask_post(alice, "/meshes/session").get_json()["session_id"] for _ in "ab"]
    bob_id = flask_post(bob, "/meshes/session").get_json()["session_id"]
    assert meshes.api.calls("create")[0].body["external_user_id"] == "acct-alice"

    assert alice.post("/test-logout").status_code == 200
    assert sorted(meshes.api.revoked_ids()) == sorted(alice_ids)
    service = loader_bridge.service(app)
    assert service.store.sessions_of("acct-alice") == []
    assert service.store.owner(bob_id) == "acct-bob"
