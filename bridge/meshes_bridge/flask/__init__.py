"""meshes-bridge for Flask: the two endpoints, the asset tree, the template helper, logout.

    from flask_login import LoginManager
    from meshes_bridge.flask import MeshesBridge

    login_manager = LoginManager()
    bridge = MeshesBridge()                  # one object, like LoginManager

    def create_app():
        app = Flask(__name__)
        app.config["MESHES_BRIDGE_MINT_LIMIT"] = 5   # optional: app.config wins over the env
        login_manager.init_app(app)
        bridge.init_app(app)                 # ConfigurationError here if a MESHES_* is missing
        return app

    # a template:  {{ meshes_embed(launch_page="dashboard") }}
    # a view:      response.headers["Content-Security-Policy"] = bridge.content_security_policy()

`init_app` reads the section 2 settings from `app.config` keys named like the environment
variables (``MESHES_ORG_ID``, ..., ``MESHES_BRIDGE_MINT_LIMIT``), each falling back to the
environment, and registers the blueprint ``meshes_bridge``:

* ``POST {url_prefix}/session`` and ``POST {url_prefix}/session/<session_id>/refresh``;
* ``GET {static_url_path}/<path:filename>``: the asset tree from the installed package;
* the Jinja global ``meshes_embed(...)``;
* with Flask-Login, logout (its ``user_logged_out`` signal) revokes the user's sessions;
* the CLI command ``flask meshes doctor [URL]`` (``meshes_bridge.flask.cli``).

The logged-in user is Flask-Login's ``current_user`` (its ``get_id()`` is the key Meshes
sees as ``external_user_id``; an anonymous user is refused 401), or the key a
``@bridge.user_loader`` callback returns (``None``, ``False`` or ``""``: anonymous). Logout
revokes the sessions bound under that same key.

Flask-WTF's ``CSRFProtect`` would refuse the bridge's POSTs (they carry no form token).
Exempt the blueprint: ``csrf.exempt(bridge.blueprint)``. The endpoints stay safe from
cross-site forms without it: a form can neither send ``Content-Type: application/json``
(-> 415) nor a foreign ``Origin`` that passes MESHES_ALLOWED_ORIGINS (-> 403).

Every rule of the endpoints lives in `meshes_bridge.server.service.EmbedService`; this
package only translates Flask's request and response.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, url_for
from markupsafe import Markup
from werkzeug.routing import BaseConverter

from meshes_bridge.flask import signals
from meshes_bridge.flask.cli import meshes_cli
from meshes_bridge.flask.signals import session_minted, session_refreshed, sessions_revoked
from meshes_bridge.flask.static import serve_asset
from meshes_bridge.flask.views import answer, app_object, to_response
from meshes_bridge.server import render, web
from meshes_bridge.server.identity import UserKeyError, is_anonymous, normalize_key, user_key
from meshes_bridge.server.service import EmbedService, MintPolicy, default_store
from meshes_bridge.server.settings import ENVIRONMENT, ConfigurationError, MeshesSettings
from meshes_bridge.server.static_files import asset_tree

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11; only for type checkers

log = logging.getLogger("meshes_bridge.flask")

#: The key of `app.extensions` holding the app's `EmbedService`, and the blueprint's name.
EXTENSION_KEY = "meshes_bridge"
BLUEPRINT_NAME = "meshes_bridge"
DEFAULT_URL_PREFIX = web.DEFAULT_URL_PREFIX
DEFAULT_STATIC_URL_PATH = web.DEFAULT_STATIC_URL_PATH
JINJA_GLOBAL = "meshes_embed"
#: app.config keys (the same names as the environment variables).
CONFIG_KEYS = tuple(ENVIRONMENT.values())

#: Named in a UserKeyError: what the host sets to give each user a usable key.
KEY_OPTION = "@bridge.user_loader (or Flask-Login's get_id())"
REST_CONVERTER = "meshes_bridge_rest"

UserLoader = Callable[..., Any]
PolicyLoader = Callable[[Any, Any], MintPolicy]
F = TypeVar("F", bound=Callable[..., Any])


def _config_text(value: Any) -> str:
    """An app.config value as the environment would spell it (a list of origins -> CSV)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)
    return str(value)


def settings_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> MeshesSettings:
    """`MeshesSettings` from `config` keys named like the environment variables, each
    falling back to `environ` (default `os.environ`). A key present in `config` wins even
    when empty (so an app can switch off an environment's MESHES_BRIDGE_REDIS_URL); None
    counts as absent. Raises `ConfigurationError` naming every missing or bad variable."""
    env = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    for variable in CONFIG_KEYS:
        value = config.get(variable)
        if value is not None:
            merged[variable] = _config_text(value)
        elif variable in env:
            merged[variable] = env[variable]
    try:
        return MeshesSettings.from_env(merged)
    except ConfigurationError as exc:
        raise exc.saying_where(_where_in_flask) from None


def _where_in_flask(variable: str) -> str:
    return f"app.config[{variable!r}] or the {variable} environment variable"


class MeshesBridge:
    """The Flask extension: one object, `init_app(app)` per app (app factories work).

    The keyword arguments are those of every adapter (`meshes_bridge.server.web.BridgeOptions`):
    `settings` (default: from each app's config and the environment), `store` (default:
    Redis when MESHES_BRIDGE_REDIS_URL is set, else in-process with a warning), `policy`
    (a `MintPolicy` or a callback ``(user, request) -> MintPolicy``; a ``@policy_loader``
    callback wins), `user_key` (``(user) -> key``, as a one-parameter ``@user_loader``),
    `client` (default: a `MeshesClient` from the settings), `url_prefix` and
    `static_url_path` (also spelled `prefix` and `static_path`). They go to each app's
    `EmbedService`, which is kept in ``app.extensions["meshes_bridge"]``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        settings: MeshesSettings | None = None,
        **options: Unpack[web.BridgeOptions],
    ) -> None:
        given = web.options(options)
        self.url_prefix, self.static_url_path = given["url_prefix"], given["static_url_path"]
        self.settings = settings
        self.store = given.get("store")
        self.policy = given.get("policy")
        self.client = given.get("client")
        self._user_loader: UserLoader | None = None
        self._loader_takes_user = False
        self._policy_loader: PolicyLoader | None = None
        user_key = given.get("user_key")
        if user_key is not None:
            self.user_loader(user_key)
        self.blueprint = self._make_blueprint()
        if app is not None:
            self.init_app(app)

    # -- set-up --------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Configure `app`: settings (ConfigurationError now, not at the first request),
        the `EmbedService`, the blueprint, the Jinja global and the logout signal."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("meshes-bridge is already initialised on this app")
        settings = self.settings if self.settings is not None else settings_from_config(app.config)
        asset_tree()  # a package without its runtime files fails at start-up, not at page load
        store = self.store if self.store is not None else default_store(settings)
        # The policy is looked up per request, so a @policy_loader registered after
        # init_app (the usual order with app factories) still applies.
        service = EmbedService(settings, client=self.client, store=store, policy=self._policy)
        app.url_map.converters.setdefault(REST_CONVERTER, _AnyRest)
        app.register_blueprint(self.blueprint)
        app.add_template_global(self.embed, JINJA_GLOBAL)
        app.extensions[EXTENSION_KEY] = service
        _connect_signals(service, app)
        self._connect_logout(app)
        app.cli.add_command(meshes_cli)  # flask meshes doctor [URL]
        log.info(
            "meshes-bridge ready: endpoints under %s, assets under %s, API %s, embed origin "
            "%s, allowed origins %s",
            self.url_prefix or "/",
            self.static_url_path,
            settings.api_url,
            settings.embed_origin,
            ", ".join(settings.allowed_origins),
        )

    def user_loader(self, callback: F) -> F:
        """Register ``callback() -> key`` or ``callback(user) -> key``: the logged-in user's
        key (the ``external_user_id`` Meshes sees; a non-empty str, an int or a UUID), or
        ``None``, ``False`` or ``""`` when anonymous. It wins over Flask-Login's
        ``get_id()``; with one parameter it is given Flask-Login's ``current_user`` (None
        without Flask-Login) and, on logout, the user logging out, so logout revokes what
        was bound under the same key. The policy callback gets the key as `user`."""
        self._user_loader = callback
        self._loader_takes_user = _takes_one_argument(callback)
        return callback

    def policy_loader(self, callback: F) -> F:
        """Register ``callback(user, request) -> MintPolicy`` deciding each mint (workspace,
        role, TTLs, launch pages); it wins over ``policy=``. `user` is Flask-Login's user
        object (or the key a ``@user_loader`` returned); `request` is Flask's request."""
        self._policy_loader = callback
        return callback

    def _make_blueprint(self) -> Blueprint:
        blueprint = Blueprint(BLUEPRINT_NAME, __name__)
        session = web.session_path(self.url_prefix)
        refresh = web.refresh_path(self.url_prefix, "<session_id>")
        # merge_slashes=False: "session//refresh" is a bad id (404), not a redirect.
        blueprint.add_url_rule(
            session, "session", self._mint_view, methods=["POST"], merge_slashes=False
        )
        blueprint.add_url_rule(
            refresh, "refresh", self._refresh_view, methods=["POST"], merge_slashes=False
        )
        # Other methods, and paths below the session URL that name no endpoint, get the
        # endpoints' own JSON with no-store rather than Flask's HTML pages.
        for rule in (session, refresh):
            blueprint.add_url_rule(
                rule, None, _method_not_allowed, methods=web.METHODS_REFUSED, merge_slashes=False
            )
        blueprint.add_url_rule(
            f"{session}/<{REST_CONVERTER}:_rest>",
            "unknown",
            _not_found,
            methods=["POST", *web.METHODS_REFUSED],
            merge_slashes=False,
        )
        blueprint.add_url_rule(
            f"{self.static_url_path}/<path:filename>", "asset", serve_asset, methods=["GET"]
        )
        return blueprint

    # -- the current app's service -------------------------------------------------------

    def service(self, app: Flask | None = None) -> EmbedService:
        """The `EmbedService` of `app` (default: the current app)."""
        target = app if app is not None else current_app
        try:
            service: EmbedService = target.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "meshes-bridge is not initialised on this app: call bridge.init_app(app)"
            ) from None
        return service

    # -- who is asking, and what they may mint -------------------------------------------

    def current_user(self) -> tuple[str | None, Any]:
        """``(user_key, user)`` for this request; ``(None, None)`` when anonymous. Raises
        `UserKeyError` when the user gives no usable key (a set-up mistake)."""
        if self._user_loader is not None:
            key = self._loader_key(self._flask_login_user())
            return key, key
        if getattr(current_app, "login_manager", None) is None:
            raise RuntimeError(
                "meshes-bridge cannot tell who is logged in: set up Flask-Login's "
                "LoginManager on this app, or register a @bridge.user_loader"
            )
        user = self._flask_login_user()
        key = user_key(user, _get_id, option=KEY_OPTION)
        return (key, user) if key is not None else (None, None)

    def _loader_key(self, user: Any) -> str | None:
        assert self._user_loader is not None
        value = self._user_loader(user) if self._loader_takes_user else self._user_loader()
        return normalize_key(value, KEY_OPTION)

    @staticmethod
    def _flask_login_user() -> Any:
        if getattr(current_app, "login_manager", None) is None:
            return None
        from flask_login import current_user

        return current_user._get_current_object()

    def _policy(self, user: Any, native_request: Any) -> MintPolicy:
        if self._policy_loader is not None:
            return self._policy_loader(user, native_request)
        if self.policy is None or isinstance(self.policy, MintPolicy):
            return self.policy if self.policy is not None else MintPolicy()
        return self.policy(user, native_request)

    # -- the endpoints -------------------------------------------------------------------

    def _mint_view(self) -> Response:
        return answer(self.service(), None, self.current_user)

    def _refresh_view(self, session_id: str) -> Response:
        return answer(self.service(), session_id, self.current_user)

    # -- logout --------------------------------------------------------------------------

    def _connect_logout(self, app: Flask) -> None:
        try:
            from flask_login import user_logged_out
        except ImportError:  # no Flask-Login: the app calls revoke_user itself
            return
        # sender=app: only apps this bridge was initialised on; weak=False: a bound method
        # would otherwise be collected at once.
        user_logged_out.connect(self._on_logged_out, sender=app, weak=False)

    def _on_logged_out(self, app: Flask, user: Any = None, **_extra: Any) -> None:
        # Flask-Login sends this before it forgets the user, so a zero-argument
        # @user_loader still sees who is logging out.
        web.revoke_quietly(self.service(app), lambda: self._logout_key(user), KEY_OPTION)

    def _logout_key(self, user: Any) -> str | None:
        if self._user_loader is None:
            return user_key(user, _get_id, option=KEY_OPTION)
        key = self._loader_key(user)
        if key is None and not is_anonymous(user):
            log.warning(
                "logout: the @bridge.user_loader gave no key for the user logging "
                "out; call bridge.revoke_user(key) before logout_user()"
            )
        return key

    def revoke_user(self, user_key: object, app: Flask | None = None) -> int:
        """Revoke every live Meshes session of `user_key` in `app` (default: the current
        app). Automatic on Flask-Login's logout; call it yourself when a
        ``@user_loader`` key is not the user's ``get_id()``, or on other ways out (account
        disabled, password changed). Returns how many Meshes revoked; never raises for a
        Meshes failure."""
        target = app if app is not None else app_object()
        return self.service(target).revoke_user(user_key)

    # -- rendering -----------------------------------------------------------------------

    def urls(self) -> dict[str, str]:
        """The endpoint and loader URLs for this request (with the app's script root); the
        refresh URL holds the literal ``{session_id}`` placeholder the bridge fills in."""
        refresh = url_for(f"{BLUEPRINT_NAME}.refresh", session_id=web.SESSION_ID_STAND_IN)
        return {
            "session_url": url_for(f"{BLUEPRINT_NAME}.session"),
            "refresh_url": web.refresh_url(refresh),
            "loader_url": url_for(f"{BLUEPRINT_NAME}.asset", filename="loader.js"),
        }

    def embed(self, **options: Unpack[render.EmbedOptions]) -> Markup:
        """The container and the loader's script tag, escaped (the Jinja global
        ``meshes_embed``): `render.EmbedOptions` (launch_page, runtime, min_height,
        max_height, element_id, css_class, hooks_url, timings_url, ready_timeout, debug,
        include_script=False for a second embed on the same page)."""
        urls = self.urls()
        return Markup(
            render.embed_html(
                session_url=urls["session_url"],
                refresh_url=urls["refresh_url"],
                loader_url=urls["loader_url"],
                embed_origin=self.service().settings.embed_origin,
                **options,
            )
        )

    def content_security_policy(self, extra: Mapping[str, str] | None = None) -> str:
        """The Content-Security-Policy for a page with the embed (`frame-src` = the current
        app's MESHES_EMBED_ORIGIN); `extra` adds or replaces directives."""
        return render.content_security_policy(self.service().settings.embed_origin, extra)


class _AnyRest(BaseConverter):
    """The rest of a path, empty segments and all (werkzeug's `path` refuses a leading
    slash, so "session//refresh" would reach Flask's HTML 404)."""

    regex = ".*"
    part_isolating = False


def _takes_one_argument(callback: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: called without user
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(
        p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters
    )


def _get_id(user: Any) -> object:
    """Flask-Login's own identity for a user: `get_id()`."""
    get_id = getattr(user, "get_id", None)
    if not callable(get_id):
        raise UserKeyError(f"a {type(user).__name__} has no get_id(): set {KEY_OPTION}")
    return get_id()


def _method_not_allowed(**_path: str) -> Response:
    return to_response(web.method_not_allowed())


def _not_found(**_path: str) -> Response:
    return to_response(web.not_found())


def _connect_signals(service: EmbedService, app: Flask) -> None:
    """The service's hooks as the blinker signals of `signals`, sent with `app`."""
    service.hooks.minted.append(lambda **details: session_minted.send(app, **details))
    service.hooks.refreshed.append(lambda **details: session_refreshed.send(app, **details))
    service.hooks.revoked.append(lambda **details: sessions_revoked.send(app, **details))


__all__ = [
    "BLUEPRINT_NAME",
    "CONFIG_KEYS",
    "ConfigurationError",
    "EXTENSION_KEY",
    "MeshesBridge",
    "MintPolicy",
    "session_minted",
    "session_refreshed",
    "sessions_revoked",
    "settings_from_config",
    "signals",
]
