"""`MeshesBridge`: the two endpoints, the asset tree and the template helper for FastAPI.

Every rule (401/403/415/400/404/429/502/500, no-store) lives in
`meshes_bridge.server.service.EmbedService`, and what the adapters share in
`meshes_bridge.server.web`; this module only reads a Starlette request's pieces and turns
the `EndpointReply` back into a response. The service is
synchronous (httpx, redis-py), so each call runs in Starlette's threadpool and the event
loop never waits on Meshes or Redis.
"""

import inspect
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount
from starlette.templating import Jinja2Templates

from meshes_bridge.fastapi.static import AssetApp
from meshes_bridge.server import render, web
from meshes_bridge.server.identity import (
    UserKeyError,
    normalize_key,
    stable_identity,
    user_key,
)
from meshes_bridge.server.service import HOOK_EVENTS, EmbedService, EndpointReply
from meshes_bridge.server.settings import ENVIRONMENT, ConfigurationError, MeshesSettings

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11; only for type checkers

log = logging.getLogger("meshes_bridge.fastapi")

DEFAULT_PREFIX = web.DEFAULT_URL_PREFIX
DEFAULT_STATIC_PATH = web.DEFAULT_STATIC_URL_PATH
SESSION_ROUTE = "meshes_bridge_session"
REFRESH_ROUTE = "meshes_bridge_refresh"
STATIC_ROUTE = "meshes_bridge_static"
JINJA_GLOBAL = "meshes_embed"
#: Named in a UserKeyError: what the host sets to give each user a usable key.
KEY_OPTION = "MeshesBridge(user_key=...)"
F = TypeVar("F", bound=Callable[..., Any])


def default_user_key(user: Any) -> str:
    """The user's stable identity: `id`, `pk`, `get_id()` or Starlette's `identity`, as
    text; never the object's `repr` (`UserKeyError` naming ``user_key=`` instead)."""
    key = normalize_key(stable_identity(user, KEY_OPTION), KEY_OPTION)
    if key is None:
        raise UserKeyError(f"the user's id is empty: set {KEY_OPTION}")
    return key


def _app_root(request: Request | None) -> str:
    """The app's own mount point (a proxy's `--root-path`), so rendered URLs still reach the
    router when the app is served below a path prefix."""
    if request is None:
        return ""
    root: str = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    return root.rstrip("/")


async def _read_body(request: Request) -> bytes:
    """The raw body, never more than the service accepts plus one byte, chunked or not."""
    body = web.BoundedBody()
    async for chunk in request.stream():
        if not body.add(chunk):
            break
    return body.value()


def _as_dependency(get_user: Callable[..., Any]) -> Callable[..., Any]:
    """`get_user` as FastAPI should call it. ``lambda request: request.user`` (the natural
    form with Starlette's AuthenticationMiddleware) has an unannotated `request`, which
    FastAPI would read as a query parameter: it is given the request instead."""
    try:
        parameters = list(inspect.signature(get_user).parameters.values())
    except (TypeError, ValueError):
        return get_user
    if len(parameters) != 1 or parameters[0].name != "request":
        return get_user
    if parameters[0].annotation is not inspect.Parameter.empty:
        return get_user
    if inspect.iscoroutinefunction(get_user):

        async def user_of_async(request: Request) -> Any:
            return await get_user(request)

        return user_of_async

    def user_of(request: Request) -> Any:
        return get_user(request)

    return user_of


def _one_header(request: Request, name: str) -> str | None:
    """A header's value; repeated, its values joined as a WSGI server joins them, so two
    `Origin` headers are refused here as under Flask and Django rather than the first
    one read."""
    values = request.headers.getlist(name)
    return ", ".join(values) if values else None


def _response(reply: EndpointReply) -> Response:
    return Response(
        reply.json_bytes(),
        status_code=reply.status,
        headers=reply.headers,
        media_type="application/json",
    )


async def _method_not_allowed() -> Response:
    return _response(web.method_not_allowed())


async def _not_found() -> Response:
    return _response(web.not_found())


def _settings_from_environment() -> MeshesSettings:
    try:
        return MeshesSettings.from_env()
    except ConfigurationError as exc:
        raise exc.saying_where(_where_in_fastapi) from None


def _where_in_fastapi(variable: str) -> str:
    field = next((f for f, v in ENVIRONMENT.items() if v == variable), None)
    in_code = f", or MeshesBridge(MeshesSettings.from_env({field}=...))" if field else ""
    return f"the {variable} environment variable{in_code}"


class MeshesBridge:
    """The server half of meshes-bridge for a FastAPI (or Starlette) app.

        bridge = MeshesBridge(get_user=current_user)   # settings from MESHES_* variables
        app.include_router(bridge.router)              # POST /meshes/session, .../refresh
        bridge.mount_static(app)                       # /static/meshes-bridge/loader.js, ...
        bridge.install_templates(templates)            # {{ meshes_embed(launch_page=...) }}
        bridge.revoke_user(key)                        # on logout (await arevoke_user(key))

    `get_user` is a FastAPI dependency (sync or async, with sub-dependencies of its own)
    returning the logged-in user, or None; a user whose `is_authenticated` is false
    (Starlette's `UnauthenticatedUser`) is anonymous too, so with Starlette's
    `AuthenticationMiddleware`, ``get_user=lambda request: request.user`` is enough.
    `user_key(user)` turns that user into the `external_user_id` Meshes sees and the key
    its sessions are bound to (default: its `id`, `pk`, `get_id()` or Starlette's
    `identity`; None, False or "" = anonymous). `policy` (a `MintPolicy`, or a callback
    `(user, request) -> MintPolicy`), `store` and `client` go to the `EmbedService`; their
    defaults come from the settings (Redis when MESHES_BRIDGE_REDIS_URL is set).
    `url_prefix` and `static_url_path` (also spelled `prefix` and `static_path`) place the
    endpoints and the asset tree: the names every adapter accepts
    (`meshes_bridge.server.web.BridgeOptions`).

    A missing or bad setting raises `ConfigurationError` here, at app start.
    """

    def __init__(
        self,
        settings: MeshesSettings | None = None,
        *,
        get_user: Callable[..., Any],
        **options: "Unpack[web.BridgeOptions]",
    ) -> None:
        if not callable(get_user):
            raise TypeError("get_user must be a FastAPI dependency: a callable")
        given = web.options(options)
        self.url_prefix, self.static_url_path = given["url_prefix"], given["static_url_path"]
        self.settings = settings if settings is not None else _settings_from_environment()
        client = given.get("client")
        self.service = EmbedService(
            self.settings, client=client, store=given.get("store"), policy=given.get("policy")
        )
        self._owns_client = client is None
        self._get_user = _as_dependency(get_user)
        self._user_key = given.get("user_key")
        self._static_app: AssetApp | None = None
        self.router = self._build_router()

    # -- URLs ----------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """`url_prefix`, by its older name."""
        return self.url_prefix

    @property
    def static_path(self) -> str:
        """`static_url_path`, by its older name."""
        return self.static_url_path

    @property
    def session_path(self) -> str:
        """The mint endpoint's path (below the app's root path)."""
        return web.session_path(self.url_prefix)

    @property
    def refresh_path(self) -> str:
        """The refresh endpoint's path, with the literal ``{session_id}`` placeholder the
        browser half fills in."""
        return web.refresh_path(self.url_prefix)

    @property
    def loader_path(self) -> str:
        return f"{self.static_url_path}/loader.js"

    # -- hooks ---------------------------------------------------------------------------

    def on(self, event: str) -> Callable[[F], F]:
        """Register a callback on ``"minted"``, ``"refreshed"`` or ``"revoked"`` (see
        `meshes_bridge.server.service.Hooks`)::

            @bridge.on("minted")
            def audit(user_key: str, session_id: str) -> None: ...
        """
        if event not in HOOK_EVENTS:
            raise ValueError(f"event must be one of {sorted(HOOK_EVENTS)}")

        def register(callback: F) -> F:
            getattr(self.service.hooks, event).append(callback)
            return callback

        return register

    # -- the endpoints -------------------------------------------------------------------

    def user_key_of(self, user: Any) -> str | None:
        """The key of `user`: None when anonymous (None, or `is_authenticated` false, as
        Starlette's `UnauthenticatedUser`; or a `user_key` answer of None, False or "").
        Raises `UserKeyError` when the user gives no usable key."""
        return user_key(user, self._user_key, option=KEY_OPTION)

    def _build_router(self) -> APIRouter:
        router = APIRouter()
        # Annotated (evaluated here, not as a string) so FastAPI sees this bridge's get_user.
        User = Annotated[Any, Depends(self._get_user)]

        async def mint_session(request: Request, user: User) -> Response:
            return await self._answer(request, user, None)

        async def refresh_session(request: Request, session_id: str, user: User) -> Response:
            return await self._answer(request, user, session_id)

        for path, endpoint, name in (
            (self.session_path, mint_session, SESSION_ROUTE),
            (self.refresh_path, refresh_session, REFRESH_ROUTE),
        ):
            router.add_api_route(
                path,
                endpoint,
                methods=["POST"],
                name=name,
                response_class=Response,
                include_in_schema=False,
            )
        # Other methods, and paths below the session URL that name no endpoint, get the
        # endpoints' own JSON with no-store rather than the framework's pages.
        for path in (self.session_path, self.refresh_path):
            router.add_api_route(
                path,
                _method_not_allowed,
                methods=list(web.METHODS_REFUSED),
                include_in_schema=False,
            )
        router.add_api_route(
            web.session_path(self.url_prefix) + "/{_rest:path}",
            _not_found,
            methods=["POST", *web.METHODS_REFUSED],
            include_in_schema=False,
        )
        return router

    async def _answer(self, request: Request, user: Any, session_id: str | None) -> Response:
        body = await _read_body(request)
        reply: EndpointReply = await run_in_threadpool(
            lambda: web.reply_to(
                self.service,
                session_id=session_id,
                identify=lambda: (self.user_key_of(user), user),
                origin=_one_header(request, "origin"),
                content_type=_one_header(request, "content-type"),
                body=body,
                native=request,
            )
        )
        return _response(reply)

    # -- logout --------------------------------------------------------------------------

    def revoke_user(self, user_key: object) -> int:
        """Revoke every live Meshes session of `user_key` (call it on logout, before the
        app forgets who the user was): the key `user_key_of(user)` gives, or that user
        object itself. Returns how many Meshes revoked; never raises (logout must not
        fail), and returns within the service's REVOKE_DEADLINE. Blocks: from `async def`
        code use `await arevoke_user(user_key)`."""

        def key() -> object:
            if isinstance(user_key, str | int | uuid.UUID):
                return user_key
            return self.user_key_of(user_key)

        return web.revoke_quietly(self.service, key, KEY_OPTION)

    async def arevoke_user(self, user_key: object) -> int:
        """`revoke_user` in the threadpool, for `async def` logout handlers."""
        return await run_in_threadpool(self.revoke_user, user_key)

    # -- assets --------------------------------------------------------------------------

    @property
    def static_app(self) -> AssetApp:
        """The ASGI app serving the asset tree (`app.mount(bridge.static_path, ...)`)."""
        if self._static_app is None:
            self._static_app = AssetApp()
        return self._static_app

    def mount_static(self, app: FastAPI) -> None:
        """Serve the asset tree at `static_path`. The mount goes first in the app's routes,
        so an app's own ``/static`` mount, whenever it was added, cannot shadow it."""
        app.router.routes.insert(0, Mount(self.static_path, app=self.static_app, name=STATIC_ROUTE))

    # -- rendering -----------------------------------------------------------------------

    def embed(
        self, request: Request | None = None, **options: "Unpack[render.EmbedOptions]"
    ) -> Markup:
        """The container and the loader's script tag (escaped, safe to insert as is), with
        `render.EmbedOptions` (launch_page, runtime, heights, include_script=False for a
        second embed on the page, ...). With `request`, the URLs carry the app's root path
        (a proxy's path prefix)."""
        root = _app_root(request)
        return Markup(
            render.embed_html(
                session_url=root + self.session_path,
                refresh_url=root + self.refresh_path,
                loader_url=root + self.loader_path,
                embed_origin=self.settings.embed_origin,
                **options,
            )
        )

    def install_templates(self, templates: Jinja2Templates | jinja2.Environment) -> None:
        """Add the Jinja global ``meshes_embed(**EmbedOptions)``; it reads the template's
        ``request`` (TemplateResponse puts it there) for the app's root path."""
        env = templates if isinstance(templates, jinja2.Environment) else templates.env

        @jinja2.pass_context
        def meshes_embed(context: Context, **options: "Unpack[render.EmbedOptions]") -> Markup:
            request = context.get("request")
            return self.embed(request if isinstance(request, Request) else None, **options)

        env.globals[JINJA_GLOBAL] = meshes_embed

    def content_security_policy(self, extra: Mapping[str, str] | None = None) -> str:
        """The Content-Security-Policy for a page with the embed (`frame-src` = the embed
        origin); `extra` adds or replaces directives. Set it on those pages' responses."""
        return render.content_security_policy(self.settings.embed_origin, extra)

    # -- shutdown ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the management API client if this bridge created it (app shutdown)."""
        if self._owns_client:
            self.service.client.close()


__all__ = ["DEFAULT_PREFIX", "DEFAULT_STATIC_PATH", "MeshesBridge", "default_user_key"]
