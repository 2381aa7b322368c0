"""Unit tests of the sans-IO core that also run inside the browser on MicroPython.

Hence the restrictions: no pytest, no hypothesis, no typing/dataclasses/enum; plain
`test_*` functions with plain `assert`, expected exceptions through `raises`. The
session is driven h11-style: plain input values, an explicit `now`, and assertions on
the exact action lists. `run_all()` at the bottom runs every test without pytest.
"""

import json

from meshes_bridge.core import messages as msg
from meshes_bridge.core.actions import (
    AbortRequest,
    AdoptEarlyMint,
    CancelFrame,
    DiscardEarlyMint,
    Emit,
    Log,
    MountIframe,
    PostAuth,
    RemoveIframe,
    RequestFrame,
    SetHeight,
    SetState,
    StartMint,
    StartRefresh,
)
from meshes_bridge.core.config import (
    CONTAINER_ATTRIBUTES,
    ConfigError,
    parse_container,
    parse_flag,
    parse_loader_options,
)
from meshes_bridge.core.flight import Flight
from meshes_bridge.core.inputs import (
    NOT_OBJECT,
    OBJECT,
    TOO_LARGE,
    UNREADABLE,
    EarlyMint,
    FrameTick,
    HttpAnswered,
    HttpFailed,
    IframeLoaded,
    IframeLost,
    MessageData,
    MessageReceived,
    Start,
    Teardown,
)
from meshes_bridge.core.origins import (
    OriginError,
    check_embed_origin,
    check_same_origin_ref,
    parse_origin,
    parse_origin_only,
    quote_component,
    split_url,
)
from meshes_bridge.core.redact import REDACTED, redact, redact_fields
from meshes_bridge.core.resize import ResizeCoalescer, clamp_height
from meshes_bridge.core.responses import (
    ResponseError,
    failure_text,
    parse_refresh,
    parse_session,
)
from meshes_bridge.core.retry import backoff_delay, can_retry, is_retriable
from meshes_bridge.core.session import (
    BUDGET_WINDOW,
    MAX_REMOUNTS,
    MINT_BUDGET,
    MINT_TIMEOUT,
    REFRESH_BUDGET,
    REFRESH_TIMEOUT,
    REJECTION_LOG_BUDGET,
    EmbedSession,
)
from meshes_bridge.core.transitions import DROPPED, TABLE, StateError, next_state, read_drawing
from meshes_bridge.core.watchdog import ReadyWatchdog

PAGE = "https://host.example"
EMBED = "https://embed.meshes.io"
LAUNCH = "https://embed.meshes.io/workspace/dashboard?launch=L4UNCH"
LAUNCH2 = "https://embed.meshes.io/workspace/dashboard?launch=L4UNCH2"
TOKEN = "tok_SECRET_first_0123456789"
TOKEN2 = "tok_SECRET_second_987654321"
TOKEN3 = "tok_SECRET_third_5555555555"
# A session id with characters that must be percent-encoded in the refresh URL.
SID = "sess_a b/c+d?\u00e9"
SID_QUOTED = "sess_a%20b%2Fc%2Bd%3F%C3%A9"
EXPIRES = "2030-01-01T00:00:00Z"
EXPIRES2 = "2030-01-01T00:30:00Z"
SESSION_URL = "/meshes/session"
REFRESH_URL = "/meshes/session/{session_id}/refresh"
REFRESH_FILLED = "/meshes/session/" + SID_QUOTED + "/refresh"
READY_TIMEOUT = 15
REJECTION_REASONS = ("origin", "source", "too-large", "shape", "unknown-type")


# -- helpers ----------------------------------------------------------------------


def raises(exc_type, fn, *args):
    """Call fn(*args); it must raise exc_type, which is returned for further checks."""
    try:
        fn(*args)
    except exc_type as exc:
        return exc
    raise AssertionError("expected " + exc_type.__name__ + " from " + repr(fn))


def attrs_with(extra):
    attrs = {"data-session-url": SESSION_URL, "data-refresh-url": REFRESH_URL}
    for key in extra:
        attrs[key] = extra[key]
    return attrs


def make_config(extra=None):
    return parse_container(attrs_with(extra or {}), PAGE)


def config_error(extra, attribute=None):
    """parse_container must refuse; the ConfigError names `attribute` when given."""
    exc = raises(ConfigError, parse_container, attrs_with(extra), PAGE)
    if attribute is not None:
        assert exc.attribute == attribute, (extra, exc.attribute)
        assert exc.message.startswith(attribute + ": ")
    return exc


def session_json(token=TOKEN, sid=SID, launch=LAUNCH, expires=EXPIRES):
    data = {"session_id": sid, "access_token": token, "launch_url": launch}
    if expires is not None:
        data["expires_at"] = expires
    return json.dumps(data)


def refresh_json(token=TOKEN2, expires=EXPIRES2):
    return json.dumps({"access_token": token, "expires_at": expires})


data_of = msg.classify_json


def message(data, origin=EMBED, from_iframe=True):
    return MessageReceived(origin, from_iframe, msg.classify(data))


def ready(origin=EMBED):
    return message({"type": msg.READY}, origin)


def token_refresh():
    return message({"type": msg.TOKEN_REFRESH})


def token_expired():
    return message({"type": msg.TOKEN_EXPIRED})


def resize(height):
    return message({"type": msg.RESIZE, "height": height})


def auth(token, origin=EMBED):
    return PostAuth({"type": "meshes:auth", "token": token}, origin)


def no_logs(actions):
    return [a for a in actions if not isinstance(a, Log)]


def only(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


def error_codes(actions):
    return [a.detail["code"] for a in actions if isinstance(a, Emit) and a.name == "error"]


class Run:
    """An EmbedSession plus every action it returned, for scanning afterwards."""

    def __init__(self, extra=None, debug=False):
        self.session = EmbedSession(make_config(extra), debug)
        self.actions = []

    def feed(self, event, now):
        out = self.session.handle(event, now)
        self.actions.extend(out)
        return out

    def timer(self, now):
        out = self.session.handle_timer(now)
        self.actions.extend(out)
        return out

    @property
    def state(self):
        return self.session.state

    def deadline(self):
        return self.session.next_deadline()


def started(extra=None, debug=False):
    run = Run(extra, debug)
    run.feed(Start(), 0.0)
    return run


def mounted(extra=None, debug=False, body=None):
    """Started at 0, mint answered 200 at 1: iframe mounted, no load, no ready yet."""
    run = started(extra, debug)
    out = run.feed(HttpAnswered(1, 200, body or session_json()), 1.0)
    assert only(out, MountIframe), out
    return run


def authenticated(extra=None, debug=False):
    """Mounted; ready at 2 (before the load event, as usual), load at 2.5."""
    run = mounted(extra, debug)
    run.feed(ready(), 2.0)
    run.feed(IframeLoaded(), 2.5)
    assert run.state == "authenticated"
    return run


def refreshing(now=5.0):
    """Authenticated; the iframe asked for a refresh at `now` (request id 2)."""
    run = authenticated()
    out = run.feed(token_refresh(), now)
    assert out == [SetState("refreshing"), StartRefresh(2, REFRESH_FILLED)], out
    return run


def assert_remounted(out, mint_id):
    """The tail of a remount: iframe gone, state minting, one fresh mint request."""
    tail = no_logs(out)
    assert tail[-3:] == [RemoveIframe(), SetState("minting"), StartMint(mint_id, SESSION_URL, {})]
    assert not only(out, PostAuth)


def assert_rejected_only(run, event, reason, now=50.0):
    """`event` is dropped: one Emit rejected + one Log, nothing else, nothing changes."""
    state = run.state
    deadline = run.deadline()
    out = run.feed(event, now)
    assert out[0] == Emit("rejected", {"reason": reason, "origin": event.origin}), out
    assert len(out) == 1 or (len(out) == 2 and isinstance(out[1], Log)), out
    assert run.state == state
    assert run.deadline() == deadline
    assert not only(out, PostAuth) and not only(out, SetState)


def scan_for_secrets(actions, secrets):
    """No repr, Log text or Emit detail (keys or values) may hold a secret."""
    for action in actions:
        text = repr(action)
        if isinstance(action, Log):
            text = text + action.text
        if isinstance(action, Emit):
            text = text + action.name + json.dumps(action.detail)
            for key in action.detail:
                text = text + key + str(action.detail[key])
        for secret in secrets:
            assert secret not in text, (secret, action)


# -- origins ----------------------------------------------------------------------


def test_parse_origin_normalises_case_and_default_ports():
    assert parse_origin("HTTPS://Embed.Meshes.IO/x?y#z").serialize() == EMBED
    assert parse_origin("https://embed.meshes.io:443/").serialize() == EMBED
    assert parse_origin("http://host.example:80").serialize() == "http://host.example"
    assert parse_origin("https://host.example:80").serialize() == "https://host.example:80"
    assert parse_origin("http://host.example:8080/a").port == 8080
    assert parse_origin("https://host.example:").port is None
    assert parse_origin("https://a.example") == parse_origin("https://A.EXAMPLE:443/p")
    assert parse_origin("https://a.example") != parse_origin("http://a.example")
    assert parse_origin("http://[::1]:8000/x").serialize() == "http://[::1]:8000"
    assert parse_origin("http://127.0.0.1:9/").serialize() == "http://127.0.0.1:9"


def test_split_url_returns_the_rest():
    origin, rest = split_url("https://a.example:8443/p/q?x=1#f")
    assert origin.serialize() == "https://a.example:8443"
    assert rest == "/p/q?x=1#f"
    assert split_url("https://a.example?x")[1] == "?x"
    assert split_url("https://a.example")[1] == ""


def test_parse_origin_refuses_userinfo():
    for url in (
        "https://user@embed.meshes.io/",
        "https://user:pw@embed.meshes.io/",
        "https://embed.meshes.io@evil.example/",
        "https://@embed.meshes.io",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_backslashes_and_whitespace():
    for url in (
        "https:\\\\evil.example",
        "https://evil.example\\@embed.meshes.io/",
        "https://embed.meshes.io\\x",
        " https://embed.meshes.io",
        "https://embed.meshes.io ",
        "https://embed.meshes.io/a b",
        "https://embed.\tmeshes.io",
        "https://embed.meshes.io\n",
        "https://embed.meshes.io/\x00",
        "https://embed.meshes.io/\x7f",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_non_canonical_ipv4():
    for host in (
        "127.1",
        "0x7f.0.0.1",
        "010.0.0.1",
        "127.0.0.01",
        "2130706433",
        "0x7f000001",
        "256.0.0.1",
        "1.2.3.4.5",
        "1.2.3",
        "example.123",
        "a.0x",
    ):
        assert raises(OriginError, parse_origin, "http://" + host + "/").reason == "url", host
    assert parse_origin("http://127.0.0.1").host == "127.0.0.1"
    assert parse_origin("http://10.20.30.40:81").host == "10.20.30.40"


def test_parse_origin_refuses_ipv6_other_than_loopback():
    for host in ("[::2]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::1", "[::1]x", "[]"):
        assert raises(OriginError, parse_origin, "http://" + host + "/").reason == "url", host
    assert parse_origin("http://[::1]/").host == "[::1]"


def test_parse_origin_refuses_bad_hosts_and_ports():
    for url in (
        "https:///path",
        "https://:443",
        "https://.example",
        "https://a..example",
        "https://a_b.example",
        "https://ex%61mple.com",
        "https://\u00e9xample.com",
        "https://a.example:0",
        "https://a.example:65536",
        "https://a.example:123456",
        "https://a.example:-1",
        "https://a.example:8o",
        "https://a.example:80:80",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_other_schemes_and_non_urls():
    for url in ("javascript://x.example/%0aalert(1)", "ftp://a.example", "file:///etc/passwd"):
        assert raises(OriginError, parse_origin, url).reason == "scheme", url
    for url in ("", "a.example", "/relative", "//a.example", None, 42, "x" * 5000):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_only_refuses_paths_and_queries():
    assert parse_origin_only("https://embed.meshes.io/").serialize() == EMBED
    assert parse_origin_only("HTTPS://EMBED.MESHES.IO:443").serialize() == EMBED
    for text in ("https://embed.meshes.io/x", "https://embed.meshes.io?x", "https://e.io#f"):
        raises(OriginError, parse_origin_only, text)


def test_check_embed_origin_https_or_loopback_http():
    for url in (
        "https://embed.meshes.io",
        "https://10.0.0.1:8443",
        "http://localhost",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
        "http://127.255.1.2",
        "http://[::1]:9000",
    ):
        check_embed_origin(parse_origin(url))
    for url in (
        "http://embed.meshes.io",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://128.0.0.1",
        "http://10.0.0.1",
        "http://localhost.",
    ):
        assert raises(OriginError, check_embed_origin, parse_origin(url)).reason == "insecure", url


def test_quote_component():
    assert quote_component("sess_AZaz09-._~") == "sess_AZaz09-._~"
    assert quote_component("a b/c?d&e=f#g") == "a%20b%2Fc%3Fd%26e%3Df%23g"
    assert quote_component("%") == "%25"
    assert quote_component("+") == "%2B"
    assert quote_component("\u00e9") == "%C3%A9"
    assert quote_component("{session_id}") == "%7Bsession_id%7D"
    assert quote_component("") == ""
    assert quote_component(SID) == SID_QUOTED


def test_check_same_origin_ref():
    page = parse_origin(PAGE)
    for ref in ("/x", "x/y", "./a:b", "/x?next=https://evil.example", "HTTPS://HOST.EXAMPLE:443/"):
        check_same_origin_ref(ref, page)
    check_same_origin_ref("//host.example/x", page)
    assert raises(OriginError, check_same_origin_ref, "//evil.example/x", page).reason == (
        "cross-origin"
    )
    assert raises(OriginError, check_same_origin_ref, "http://host.example/", page).reason == (
        "cross-origin"
    )
    assert raises(OriginError, check_same_origin_ref, "javascript:alert(1)", page).reason == (
        "scheme"
    )
    for ref in ("", None, "/a\\b", "/a b", "\t/x"):
        raises(OriginError, check_same_origin_ref, ref, page)


# -- messages ---------------------------------------------------------------------


def parse(data):
    return msg.parse_message(msg.classify(data))


def rejection_reason(value):
    assert isinstance(value, msg.Rejection), value
    assert value.reason in REJECTION_REASONS
    return value.reason


def test_parse_well_formed_messages():
    assert parse({"type": "meshes:ready"}) == msg.Ready()
    assert parse({"type": "meshes:token-refresh"}) == msg.TokenRefreshAsked()
    assert parse({"type": "meshes:token-expired"}) == msg.TokenExpired()
    assert parse({"type": "meshes:ready", "version": "2", "n": 1, "x": None}) == msg.Ready()
    navigate = parse({"type": "meshes:navigate", "path": "/workspace/rules", "depth": 2})
    assert navigate == msg.NavigateAsked({"path": "/workspace/rules", "depth": 2})
    assert parse({"type": "meshes:navigate"}) == msg.NavigateAsked({})
    assert parse({"type": "meshes:resize", "height": 640}) == msg.ResizeAsked(640)
    assert parse({"type": "meshes:resize", "height": 640.5}) == msg.ResizeAsked(640.5)
    assert parse({"type": "meshes:resize", "height": 0}) == msg.ResizeAsked(0)
    assert parse({"type": "meshes:resize", "height": msg.MAX_HEIGHT}) == msg.ResizeAsked(
        msg.MAX_HEIGHT
    )


def test_parse_resize_malformed_heights():
    for height in (True, False, -1, -0.5, "500", None, [500], {"px": 500}, msg.MAX_HEIGHT + 1):
        value = parse({"type": "meshes:resize", "height": height})
        assert rejection_reason(value) == "shape", height
    assert rejection_reason(parse({"type": "meshes:resize"})) == "shape"
    assert rejection_reason(
        msg.parse_message(data_of('{"type": "meshes:resize", "height": 1e999}'))
    ) == ("shape")


def test_parse_rejects_nested_values_and_long_fields():
    for value in ({"a": 1}, [1, 2], []):
        assert rejection_reason(parse({"type": "meshes:navigate", "nested": value})) == "shape"
        assert rejection_reason(parse({"type": "meshes:ready", "nested": value})) == "shape"
    long_text = "x" * (msg.MAX_STRING_CHARS + 1)
    assert rejection_reason(parse({"type": "meshes:navigate", "path": long_text})) == "shape"
    ok = parse({"type": "meshes:navigate", "path": "x" * msg.MAX_STRING_CHARS})
    assert isinstance(ok, msg.NavigateAsked)
    long_key = "k" * (msg.MAX_KEY_CHARS + 1)
    assert rejection_reason(parse({"type": "meshes:navigate", long_key: 1})) == "shape"
    assert rejection_reason(parse({"type": "meshes:navigate", "": 1})) == "shape"


def test_parse_rejects_too_many_fields():
    data = {"type": "meshes:navigate"}
    for i in range(msg.MAX_FIELDS - 1):
        data["f" + str(i)] = i
    assert isinstance(parse(data), msg.NavigateAsked)
    data["one_more"] = 1
    assert rejection_reason(parse(data)) == "shape"


def test_parse_rejects_too_large_data():
    # The fields' size (keys and strings by length, other values 8), as the adapter counts.
    pad = msg.MAX_MESSAGE_CHARS - len("type") - len("meshes:navigate") - len("pad")
    data = {"type": "meshes:navigate", "pad": "x" * pad}
    fields = msg.classify({"type": "meshes:navigate"}).fields
    fields["pad"] = "x" * (pad + 1)
    too_big = MessageData(OBJECT, fields)  # an adapter that read past the limit
    assert rejection_reason(msg.parse_message(too_big)) == "too-large"
    assert msg.classify(data).kind == OBJECT
    data["pad"] = "x" * (pad + 1)
    assert msg.classify(data).kind == TOO_LARGE
    for kind, reason in ((TOO_LARGE, "too-large"), (UNREADABLE, "shape"), (NOT_OBJECT, "shape")):
        assert rejection_reason(msg.parse_message(MessageData(kind))) == reason
    assert (
        rejection_reason(msg.parse_message(data_of("x" * (msg.MAX_MESSAGE_CHARS + 1))))
        == "too-large"
    )


def test_parse_rejects_non_objects_invalid_json_and_none():
    for text in ("[]", '"meshes:ready"', "1", "null", "true", '["meshes:ready"]'):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape", text
    for text in ("", "{", "not json", "{'type': 'meshes:ready'}", '{"type": "meshes:ready"'):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape", text
    assert rejection_reason(msg.parse_message(data_of(None))) == "shape"


def test_parse_rejects_deeply_nested_json_without_raising():
    # Within the size limit, but deeper than CPython's json recursion limit.
    for text in ("[" * 5000 + "]" * 5000, '{"a":' * 2500 + "1" + "}" * 2500):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape"
        assert msg.message_type(data_of(text)) is None


def test_parse_type_rules():
    assert rejection_reason(parse({"kind": "meshes:ready"})) == "shape"
    assert rejection_reason(parse({"type": 1})) == "shape"
    assert rejection_reason(parse({"type": None})) == "shape"
    assert rejection_reason(parse({"type": "ready"})) == "unknown-type"
    assert rejection_reason(parse({"type": "meshes:unknown"})) == "unknown-type"
    assert rejection_reason(parse({"type": "MESHES:READY"})) == "unknown-type"
    # The host's own message type is never accepted from the iframe.
    assert rejection_reason(parse({"type": "meshes:auth", "token": "x"})) == "unknown-type"


def test_rejection_detail_never_quotes_values():
    secret = "VALUE_" + "z" * 3000
    value = parse({"type": "meshes:navigate", "path": secret})
    assert "VALUE_" not in value.detail
    value = parse({"type": "meshes:resize", "height": "VALUE_1"})
    assert "VALUE_" not in value.detail


def test_message_type_and_auth_message():
    assert msg.message_type(data_of('{"type": "meshes:ready"}')) == "meshes:ready"
    assert msg.message_type(data_of('{"type": 3}')) is None
    assert msg.message_type(data_of("[]")) is None
    assert msg.message_type(data_of("nope")) is None
    assert msg.message_type(data_of(None)) is None
    assert msg.auth_message("abc") == {"type": "meshes:auth", "token": "abc"}


# -- config -----------------------------------------------------------------------


def test_parse_container_defaults():
    config = make_config()
    assert config.session_url == SESSION_URL
    assert config.refresh_url == REFRESH_URL
    assert config.session_body == {}
    assert config.min_height == 480
    assert config.max_height is None
    assert config.embed_origin is None
    assert config.csrf_cookie is None and config.csrf_header is None
    assert config.ready_timeout == 15
    empty = make_config({"data-min-height": "", "data-session-body": "  "})
    assert empty.min_height == 480 and empty.session_body == {}


def test_parse_container_full():
    config = make_config(
        {
            "data-session-body": '{"launch_page": "connections"}',
            "data-min-height": "600px",
            "data-max-height": " 1200 ",
            "data-embed-origin": "HTTPS://Embed.Meshes.IO/",
            "data-csrf-cookie": "csrftoken",
            "data-csrf-header": "X-CSRFToken",
            "data-ready-timeout": "2.5",
        }
    )
    assert config.session_body == {"launch_page": "connections"}
    assert config.min_height == 600
    assert config.max_height == 1200
    assert config.embed_origin == EMBED
    assert config.csrf_cookie == "csrftoken" and config.csrf_header == "X-CSRFToken"
    assert config.ready_timeout == 2.5


def test_parse_container_required_urls():
    for name in ("data-session-url", "data-refresh-url"):
        for value in (None, "", "   "):
            config_error({name: value}, name)


def test_parse_container_refuses_unsafe_urls():
    for name in ("data-session-url", "data-refresh-url"):
        for value in (
            "https://evil.example/meshes/session",
            "//evil.example/meshes/session",
            "http://host.example/meshes/session",
            "https://host.example:8443/meshes/session",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/plain,x",
            "/meshes\\session",
            "\\\\evil.example/x",
            "/meshes/ session",
            "/meshes/\tsession",
            "/meshes/\nsession",
            "https://user@host.example/x",
        ):
            config_error({name: value}, name)


def test_parse_container_accepts_same_origin_urls():
    for value in (
        "https://host.example/meshes/session",
        "HTTPS://HOST.EXAMPLE:443/meshes/session",
        "//host.example/meshes/session",
        "meshes/session",
        "  /meshes/session  ",
    ):
        assert make_config({"data-session-url": value}).session_url == value.strip()


def test_parse_container_session_body_errors():
    for value in ("not json", "[1]", '"x"', "1", "{", "{" + " " * 9000 + "}"):
        config_error({"data-session-body": value}, "data-session-body")


def test_parse_container_session_body_deeply_nested():
    config_error({"data-session-body": "[" * 4000 + "]" * 4000}, "data-session-body")


def test_parse_container_height_errors():
    for name in ("data-min-height", "data-max-height"):
        for value in ("abc", "-1", "100001", "12em", "nan", "inf", "px", "4 8 0"):
            config_error({name: value}, name)
    config_error({"data-min-height": "500", "data-max-height": "499"}, "data-max-height")
    config_error({"data-max-height": "300"}, "data-max-height")


def test_parse_container_heights_accepted():
    assert make_config({"data-min-height": "480px"}).min_height == 480
    assert make_config({"data-min-height": "0"}).min_height == 0
    assert make_config({"data-min-height": "100.5"}).min_height == 100.5
    config = make_config({"data-min-height": "500", "data-max-height": "500px"})
    assert config.min_height == 500 and config.max_height == 500


def test_parse_container_ready_timeout():
    for value in ("0", "-1", "0.05", "601", "x", "nan"):
        config_error({"data-ready-timeout": value}, "data-ready-timeout")
    assert make_config({"data-ready-timeout": "0.1"}).ready_timeout == 0.1
    assert make_config({"data-ready-timeout": "600"}).ready_timeout == 600


def test_parse_container_embed_origin_errors():
    for value in ("https://embed.meshes.io/path", "embed.meshes.io", "ftp://e.io", "https://"):
        config_error({"data-embed-origin": value}, "data-embed-origin")


def test_parse_container_csrf_pair_rule():
    # The error names the attribute that is missing.
    config_error({"data-csrf-cookie": "csrftoken"}, "data-csrf-header")
    config_error({"data-csrf-header": "X-CSRFToken"}, "data-csrf-cookie")
    config_error({"data-csrf-cookie": "csrf token", "data-csrf-header": "X"}, "data-csrf-cookie")
    config_error({"data-csrf-cookie": "c", "data-csrf-header": "X:Y"}, "data-csrf-header")
    config_error({"data-csrf-cookie": "c", "data-csrf-header": "X\u00e9"}, "data-csrf-header")
    config = make_config({"data-csrf-cookie": " csrftoken ", "data-csrf-header": "X-CSRFToken"})
    assert config.csrf_cookie == "csrftoken"
    config = make_config({"data-csrf-cookie": "", "data-csrf-header": " "})
    assert config.csrf_cookie is None and config.csrf_header is None


def test_container_attributes_list():
    for name in CONTAINER_ATTRIBUTES:
        assert name.startswith("data-")
    assert "data-session-url" in CONTAINER_ATTRIBUTES
    assert "data-ready-timeout" in CONTAINER_ATTRIBUTES


def test_parse_loader_options_defaults_and_fallbacks():
    options = parse_loader_options({})
    assert options.runtime == "micropython"
    assert options.hooks is None and options.debug is False and options.warnings == []
    assert parse_loader_options({"runtime": "pyodide"}).runtime == "pyodide"
    assert parse_loader_options({"runtime": ""}).warnings == []
    for bad in ("cpython", "Pyodide", " pyodide"):
        options = parse_loader_options({"runtime": bad})
        assert options.runtime == "micropython" and len(options.warnings) == 1, bad
    assert parse_loader_options({"hooks": "  "}).hooks is None
    assert parse_loader_options({"hooks": 3}).hooks is None
    assert parse_loader_options({"hooks": "/static/hooks.py"}).hooks == "/static/hooks.py"
    assert parse_loader_options({"debug": ""}).debug is True
    assert parse_loader_options({"debug": "off"}).debug is False


def test_parse_flag():
    for value in ("", "1", "true", "on", "yes", "debug", True):
        assert parse_flag(value) is True, value
    for value in (None, False, "false", "FALSE", " 0 ", "off", "no"):
        assert parse_flag(value) is False, value


# -- responses, retry, redact, resize, values ---------------------------------------


def test_parse_session_and_refresh():
    session = parse_session(session_json())
    assert session.session_id == SID and session.access_token == TOKEN
    assert session.launch_url == LAUNCH and session.expires_at == EXPIRES
    assert parse_session(session_json(expires=None)).expires_at is None
    assert TOKEN not in repr(session)
    refreshed = parse_refresh(refresh_json())
    assert refreshed.access_token == TOKEN2 and refreshed.expires_at == EXPIRES2
    assert TOKEN2 not in repr(refreshed)


def test_parse_session_refuses_malformed_answers():
    bad = (
        None,
        "",
        "nope",
        "[]",
        "{}",
        json.dumps({"session_id": SID, "access_token": TOKEN}),
        json.dumps({"session_id": SID, "access_token": 5, "launch_url": LAUNCH}),
        json.dumps({"session_id": "", "access_token": TOKEN, "launch_url": LAUNCH}),
        json.dumps({"session_id": "a\nb", "access_token": TOKEN, "launch_url": LAUNCH}),
        session_json(expires=""),
        "[" * 5000 + "]" * 5000,
        " " * 70000,
    )
    for text in bad:
        exc = raises(ResponseError, parse_session, text)
        assert TOKEN not in str(exc)
    for text in ("{}", json.dumps({"access_token": ""}), "[" * 5000 + "]" * 5000):
        raises(ResponseError, parse_refresh, text)


def test_retry_policy():
    assert [backoff_delay(n) for n in (1, 2, 3, 4, 5, 6, 20)] == [0.5, 1, 2, 4, 8, 8, 8]
    for status in (None, 500, 502, 503, 599, 408, 429):
        assert is_retriable(status), status
    for status in (200, 400, 401, 403, 404, 409, 302):
        assert not is_retriable(status), status
    assert can_retry(1) and can_retry(4) and not can_retry(5)


def test_redact():
    assert redact("a SECRET b SECRET", ["SECRET"]) == "a " + REDACTED + " b " + REDACTED
    assert redact("abcd", ["", None, "abcd"]) == REDACTED
    assert redact("nothing here", [TOKEN]) == "nothing here"
    assert redact("ab", ["ab"]) == "ab"  # too short to be a credential
    fields = {"token": TOKEN, "Access_Token": TOKEN, "nested": [{"launch": "x"}], "path": "/p"}
    assert redact_fields(fields) == {
        "token": REDACTED,
        "Access_Token": REDACTED,
        "nested": [{"launch": REDACTED}],
        "path": "/p",
    }
    assert redact_fields("plain") == "plain"


def test_clamp_height():
    assert clamp_height(100, 480, None) == 480
    assert clamp_height(500, 480, None) == 500
    assert clamp_height(500.2, 480, None) == 501
    assert clamp_height(500.0, 480, None) == 500
    assert clamp_height(5000, 480, 900) == 900
    assert clamp_height(899.5, 480, 900) == 900
    assert clamp_height(0, 0, None) == 0


def test_clamp_height_never_undercuts_a_fractional_minimum():
    assert clamp_height(100, 480.5, None) == 481
    assert clamp_height(480.2, 480.5, 900) == 481
    assert clamp_height(1000, 480.5, 900.5) == 900


def test_resize_coalescer():
    coalescer = ResizeCoalescer()
    assert coalescer.take() is None
    assert coalescer.ask(500) is True
    assert coalescer.ask(600) is False
    assert coalescer.take() == 600
    assert coalescer.take() is None
    assert coalescer.ask(700) is True


def test_values_equality_and_repr():
    assert SetState("mounted") == SetState("mounted")
    assert SetState("mounted") != SetState("minting")
    assert SetState("mounted") != Emit("mounted", {})
    assert hash(SetState("x")) == hash(SetState("x"))
    assert repr(StartRefresh(3, "/r")) == (
        "StartRefresh(request_id=3, url='/r', body={}, csrf_cookie=None, csrf_header=None)"
    )
    assert RemoveIframe() == RemoveIframe() and FrameTick() == FrameTick()
    assert TOKEN not in repr(auth(TOKEN))
    assert TOKEN not in repr(HttpAnswered(1, 200, session_json()))


# -- the session's parts: its table, a flight, the ready watchdog -------------------


def test_read_drawing_takes_each_cell_by_its_column():
    drawing = """
                   booting  minting  mounted  authed   refresh  expired  error
start              minting  -
ready                                authed            .
"""
    table = read_drawing(drawing)
    assert table["booting"] == {"start": "minting"}
    assert table["minting"] == {"start": DROPPED}
    assert table["mounted"] == {"ready": "authenticated"}
    assert table["authenticated"] == {}
    assert table["refreshing"] == {"ready": "refreshing"}  # "." stays
    assert table["error"] == {}
    assert next_state(table, "booting", "start") == "minting"
    raises(StateError, next_state, table, "authenticated", "ready")


def test_read_drawing_refuses_unknown_inputs_and_cells():
    header = "\n                   booting  minting\n"
    raises(ValueError, read_drawing, header + "begin              minting\n")
    raises(KeyError, read_drawing, header + "start              mintnig\n")


def test_every_state_is_in_the_table():
    assert sorted(TABLE) == sorted(
        ("booting", "minting", "mounted", "authenticated", "refreshing", "expired", "error")
    )


def test_flight_one_request_then_its_timeout():
    flight = Flight(2, 60.0, 10.0)
    assert flight.idle() and flight.wait_for_budget(0.0) == 0.0
    flight.send(7, 0.0)
    assert not flight.idle() and flight.wake_at == 10.0
    assert flight.overdue(9.9) is None and flight.overdue(10.0) == 7
    assert not flight.due(10.0)  # a request out is not a retry
    assert not flight.land(6) and flight.land(7) and flight.idle()
    assert not flight.land(7)  # an answer lands once


def test_flight_retries_with_backoff_then_gives_up():
    flight = Flight(10, 60.0, 10.0)
    attempts = 0
    while flight.retry_later(500, 0.0):
        attempts += 1
        assert flight.wake_at == backoff_delay(attempts)
        assert not flight.due(flight.wake_at - 0.01) and flight.due(flight.wake_at)
    assert attempts == 4 and flight.idle()
    assert not Flight(10, 60.0, 10.0).retry_later(400, 0.0)


def test_flight_waits_for_its_budget_and_cancels():
    flight = Flight(1, 60.0, 10.0)
    flight.send(1, 0.0)
    flight.land(1)
    assert flight.wait_for_budget(5.0) == 60.0 and flight.wake_at == 60.0
    flight.attempt = 3
    assert flight.cancel() is None and flight.idle() and flight.attempt == 0
    flight.send(2, 61.0)
    assert flight.cancel() == 2 and flight.idle()


def test_watchdog_credits_a_ready_around_its_load():
    dog = ReadyWatchdog()
    assert not dog.can_post()
    dog.mounted(0.0, 15)
    assert dog.deadline == 15.0 and not dog.can_post()
    dog.ready(1.0)  # before its load: held, and it may already get the token
    assert dog.deadline is None and dog.can_post()
    dog.loaded(2.0)
    assert dog.can_post() and dog.deadline is None
    dog.loaded(40.0)  # a reload: this document owes a ready
    assert not dog.can_post() and dog.deadline == 55.0
    assert not dog.tripped(54.9)
    dog.ready(41.0)
    assert dog.can_post() and not dog.tripped(100.0)
    dog.removed()
    assert not dog.can_post() and dog.deadline is None


def test_watchdog_a_stale_ready_does_not_vouch_for_a_reload():
    dog = ReadyWatchdog()
    dog.mounted(0.0, 15)
    dog.loaded(1.0)
    dog.ready(2.0)
    dog.ready(3.0)  # a repeated ready: held for a document not loaded yet
    dog.loaded(30.0)
    assert not dog.can_post() and dog.tripped(45.0) and dog.deadline is None


# -- session: start and mint -------------------------------------------------------


def test_start_sets_minting_and_starts_mint():
    run = Run({"data-session-body": '{"launch_page": "connections"}'})
    out = run.feed(Start(), 0.0)
    assert out == [SetState("minting"), StartMint(1, SESSION_URL, {"launch_page": "connections"})]
    assert run.state == "minting"
    assert run.deadline() == MINT_TIMEOUT


def test_mint_answer_mounts_iframe_at_min_height():
    run = started()
    out = run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]
    assert run.state == "mounted"
    assert run.session.embed_origin == EMBED
    assert run.session.session_id == SID
    assert run.deadline() == 1.0 + READY_TIMEOUT  # the ready watchdog
    run = started({"data-min-height": "600", "data-max-height": "900"})
    out = run.feed(HttpAnswered(1, 201, session_json()), 1.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 600), SetState("mounted")]


def test_mint_answer_on_loopback_http_mounts():
    for launch in ("http://localhost:8000/w", "http://127.0.0.1:9000/w", "http://[::1]:9000/w"):
        run = mounted(body=session_json(launch=launch))
        assert run.session.embed_origin == parse_origin(launch).serialize()


def test_mint_client_error_is_final():
    for status in (400, 401, 403, 404, 422, 302):
        run = started()
        out = run.feed(HttpAnswered(1, status, "{}"), 1.0)
        assert no_logs(out) == [
            SetState("error"),
            Emit("error", {"code": "mint-failed", "message": out[-1].detail["message"]}),
        ], out
        assert str(status) in out[-1].detail["message"]
        assert run.state == "error" and run.deadline() is None
        assert not only(out, MountIframe)


def test_a_refused_origin_names_the_code_the_setting_and_the_origin():
    run = started()
    body = json.dumps({"error": "origin-not-allowed", "origin": "http://127.0.0.1:8000"})
    out = run.feed(HttpAnswered(1, 403, body), 1.0)
    text = (
        "session endpoint answered HTTP 403 origin-not-allowed: this page's origin "
        "http://127.0.0.1:8000 is not in MESHES_ALLOWED_ORIGINS, a setting of the server: "
        "add it there"
    )
    assert out[-1] == Emit("error", {"code": "mint-failed", "message": text}), out
    assert [a.text for a in only(out, Log) if a.level == "error"] == ["mint-failed: " + text]


def test_failure_text_shows_only_a_well_formed_code_from_the_body():
    assert failure_text("refresh endpoint", 502, '{"error": "meshes-unavailable"}') == (
        "refresh endpoint answered HTTP 502 meshes-unavailable"
    )
    bare = "session endpoint answered HTTP 403"
    for body in ("", "<html>403</html>", "[]", '{"error": 5}', '{"error": "<b>eyJhb</b>"}'):
        assert failure_text("session endpoint", 403, body) == bare, body
    assert failure_text("session endpoint", 403, '{"error": "x' + "y" * 60 + '"}') == bare
    # No origin, or no origin at all in "origin": the setting is still named.
    for extra in ({}, {"origin": "javascript:alert(1)"}, {"origin": 7}):
        body = json.dumps(dict({"error": "origin-not-allowed"}, **extra))
        text = failure_text("session endpoint", 403, body)
        assert text.startswith(bare + " origin-not-allowed: this page's origin is not in "), text
        assert "MESHES_ALLOWED_ORIGINS" in text and "javascript" not in text


def test_mint_malformed_answer_is_mint_invalid():
    for body in (
        "not json",
        "[]",
        json.dumps({"session_id": SID, "access_token": TOKEN}),
        json.dumps({"session_id": SID, "access_token": 5, "launch_url": LAUNCH}),
        json.dumps({"session_id": SID, "access_token": TOKEN, "launch_url": ""}),
        "[" * 5000 + "]" * 5000,
    ):
        run = started()
        out = run.feed(HttpAnswered(1, 200, body), 1.0)
        assert error_codes(out) == ["mint-invalid"], (body, out)
        assert run.state == "error" and not only(out, MountIframe)
        scan_for_secrets(out, [TOKEN])


def test_mint_plain_http_launch_url_is_refused():
    for launch in (
        "http://embed.meshes.io/workspace/dashboard?launch=x",
        "javascript:alert(1)",
        "https://user@embed.meshes.io/x",
        "https://embed.meshes.io\\@evil.example/",
        "//embed.meshes.io/x",
    ):
        run = started()
        out = run.feed(HttpAnswered(1, 200, session_json(launch=launch)), 1.0)
        assert error_codes(out) == ["launch-url"], (launch, out)
        assert run.state == "error" and not only(out, MountIframe)
        scan_for_secrets(out, [TOKEN])


def test_mint_launch_url_must_match_data_embed_origin():
    for launch in ("https://evil.example/w", "https://embed.meshes.io:8443/w"):
        run = started({"data-embed-origin": EMBED})
        out = run.feed(HttpAnswered(1, 200, session_json(launch=launch)), 1.0)
        assert error_codes(out) == ["embed-origin"], out
        assert run.state == "error" and not only(out, MountIframe)
    run = started({"data-embed-origin": "HTTPS://EMBED.MESHES.IO:443/"})
    out = run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]


def test_mint_5xx_and_network_errors_retry_with_backoff():
    run = started()
    out = run.feed(HttpAnswered(1, 503, "busy"), 1.0)
    assert no_logs(out) == [] and only(out, Log)
    assert run.state == "minting" and run.deadline() == 1.5
    assert run.timer(1.49) == []
    assert run.timer(1.5) == [StartMint(2, SESSION_URL, {})]
    out = run.feed(HttpFailed(2, "network down"), 2.0)
    assert no_logs(out) == [] and run.deadline() == 3.0
    assert run.timer(3.0) == [StartMint(3, SESSION_URL, {})]
    out = run.feed(HttpAnswered(3, 200, session_json()), 4.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]


def test_mint_retries_are_limited():
    run = started()
    now = 1.0
    request_id = 1
    for attempt in range(1, 5):
        out = run.feed(HttpAnswered(request_id, 500, ""), now)
        assert no_logs(out) == []
        assert run.deadline() == now + backoff_delay(attempt)
        now = run.deadline()
        request_id += 1
        assert run.timer(now) == [StartMint(request_id, SESSION_URL, {})]
    out = run.feed(HttpAnswered(request_id, 500, ""), now + 1)
    assert error_codes(out) == ["mint-failed"]
    assert run.state == "error" and run.deadline() is None


def test_mint_request_timeout_aborts_and_retries():
    run = started()
    assert run.timer(MINT_TIMEOUT - 0.1) == []
    out = run.timer(MINT_TIMEOUT)
    assert no_logs(out) == [AbortRequest(1)]
    assert run.deadline() == MINT_TIMEOUT + 0.5
    assert run.timer(MINT_TIMEOUT + 0.5) == [StartMint(2, SESSION_URL, {})]
    # The aborted request's late answer is stale and ignored.
    assert run.feed(HttpAnswered(1, 200, session_json()), 16.0) == []
    assert run.state == "minting"
    out = run.feed(HttpAnswered(2, 200, session_json()), 17.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]


# -- session: messages ------------------------------------------------------------


def test_messages_from_wrong_origin_are_rejected():
    for run in (mounted(), authenticated()):
        for origin in ("https://evil.example", "http://embed.meshes.io", EMBED + ":8443", "null"):
            assert_rejected_only(run, ready(origin), "origin")
            assert_rejected_only(run, message({"type": msg.TOKEN_REFRESH}, origin), "origin")


def test_messages_before_mount_are_rejected_as_origin():
    run = started()
    assert_rejected_only(run, ready(), "origin")
    assert run.state == "minting"


def test_messages_from_wrong_source_are_rejected():
    for run in (mounted(), authenticated()):
        assert_rejected_only(
            run, MessageReceived(EMBED, False, data_of('{"type": "meshes:ready"}')), "source"
        )
        event = MessageReceived(EMBED, False, data_of('{"type": "meshes:token-expired"}'))
        assert_rejected_only(run, event, "source")


def test_malformed_and_unknown_messages_are_rejected():
    for run in (mounted(), authenticated()):
        for data, reason in (
            ("not json", "shape"),
            (None, "shape"),
            ("[]", "shape"),
            ('{"type": "meshes:resize", "height": "big"}', "shape"),
            ('{"type": "meshes:resize", "height": true}', "shape"),
            ('{"type": "meshes:navigate", "x": {"y": 1}}', "shape"),
            ('{"type": "meshes:hello"}', "unknown-type"),
            ('{"type": "meshes:auth", "token": "x"}', "unknown-type"),
            ("x" * (msg.MAX_MESSAGE_CHARS + 1), "too-large"),
            ("[" * 5000 + "]" * 5000, "shape"),
        ):
            assert_rejected_only(run, MessageReceived(EMBED, True, data_of(data)), reason)


def test_rejection_log_level():
    run = mounted(debug=True)
    out = run.feed(MessageReceived("https://evil.example", True, data_of('{"x": 1}')), 3.0)
    assert out[1].level == "debug"
    # Without debug, a junk message costs one event and no log line at all.
    run = mounted()
    out = run.feed(MessageReceived("https://evil.example", True, data_of('{"x": 1}')), 3.0)
    assert out == [Emit("rejected", {"reason": "origin", "origin": "https://evil.example"})]
    out = run.feed(
        MessageReceived("https://evil.example", True, data_of('{"type": "meshes:ready"}')), 3.0
    )
    assert out[1].level == "warn"
    out = run.feed(MessageReceived(EMBED, True, data_of("nope")), 3.0)
    assert out[1].level == "warn"


def test_rejection_log_lines_are_budgeted_events_are_not():
    run = mounted()
    evil = MessageReceived("https://evil.example", True, data_of('{"type": "meshes:ready"}'))
    logged = 0
    for i in range(REJECTION_LOG_BUDGET + 40):
        out = run.feed(evil, 3.0 + i * 0.001)
        assert out[0] == Emit("rejected", {"reason": "origin", "origin": "https://evil.example"})
        logged += len(only(out, Log))
    assert logged == REJECTION_LOG_BUDGET
    out = run.feed(evil, 3.0 + BUDGET_WINDOW)  # the window has room again
    assert only(out, Log)[0].text.endswith("; 40 more rejected before this were not logged")


def test_ready_posts_the_token_to_the_embed_origin():
    run = mounted()
    out = run.feed(ready(), 2.0)
    assert out == [
        Emit("ready", {}),
        auth(TOKEN),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]
    assert out[1].message == {"type": "meshes:auth", "token": TOKEN}
    assert out[1].target_origin == EMBED
    assert run.deadline() is None
    assert run.feed(IframeLoaded(), 2.5) == []


def test_second_ready_posts_again():
    run = authenticated()
    out = run.feed(ready(), 3.0)
    assert out == [Emit("ready", {}), auth(TOKEN), Emit("authenticated", {})]


def test_no_token_before_ready():
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    for event in (resize(600), message({"type": msg.NAVIGATE, "path": "/x"}), FrameTick()):
        assert not only(run.feed(event, 2.0), PostAuth)
    assert run.state == "mounted"


def test_debug_logs_are_redacted():
    run = mounted(debug=True)
    out = run.feed(ready(), 2.0)
    assert [a.level for a in only(out, Log)] == ["debug", "debug"]
    out = run.feed(message({"type": msg.NAVIGATE, "token": TOKEN, "path": "/p?x=" + TOKEN}), 3)
    assert only(out, Log) and not only(out, PostAuth)
    scan_for_secrets(run.actions, [TOKEN])


def test_token_refresh_starts_one_request_with_encoded_session_id():
    run = authenticated()
    out = run.feed(token_refresh(), 5.0)
    assert out == [SetState("refreshing"), StartRefresh(2, REFRESH_FILLED)]
    assert run.deadline() == 5.0 + REFRESH_TIMEOUT
    # Single flight: a second ask, or an expiry, shares the request in flight.
    assert run.feed(token_refresh(), 5.5) == []
    out = run.feed(token_expired(), 5.6)
    assert no_logs(out) == [SetState("expired"), Emit("token-expired", {})]
    assert not only(run.actions, StartRefresh)[1:]


def test_token_refresh_answer_posts_the_new_token():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    assert no_logs(out) == [
        Emit("token-refreshed", {"expires_at": EXPIRES2}),
        auth(TOKEN2),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]
    assert out[2].message["token"] == TOKEN2
    assert run.deadline() is None
    # Later readies get the new token.
    assert only(run.feed(ready(), 7.0), PostAuth) == [auth(TOKEN2)]
    # A new ask after the answer is a new request.
    assert run.feed(token_refresh(), 8.0) == [
        SetState("refreshing"),
        StartRefresh(3, REFRESH_FILLED),
    ]


def test_token_refresh_before_ready_waits_for_ready():
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    out = run.feed(token_refresh(), 2.0)
    assert out == [SetState("refreshing"), StartRefresh(2, REFRESH_FILLED)]
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 3.0)
    assert no_logs(out) == [Emit("token-refreshed", {"expires_at": EXPIRES2}), SetState("mounted")]
    out = run.feed(ready(), 4.0)
    assert out == [
        Emit("ready", {}),
        auth(TOKEN2),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]


def test_refresh_5xx_retries_at_backoff():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 503, ""), 6.0)
    assert no_logs(out) == [] and len(only(out, Log)) == 1
    assert run.state == "refreshing"
    assert run.deadline() == 6.5
    assert run.timer(6.49) == []
    assert run.timer(6.5) == [StartRefresh(3, REFRESH_FILLED)]
    assert run.deadline() == 6.5 + REFRESH_TIMEOUT
    # Single flight holds during a pending retry too.
    out = run.feed(HttpFailed(3, "connection reset"), 7.0)
    assert no_logs(out) == [] and run.deadline() == 8.0
    assert run.feed(token_refresh(), 7.5) == []
    assert run.timer(8.0) == [StartRefresh(4, REFRESH_FILLED)]
    out = run.feed(HttpAnswered(4, 200, refresh_json()), 8.5)
    assert only(out, PostAuth) == [auth(TOKEN2)]
    assert run.state == "authenticated"


def test_refresh_429_and_408_retry():
    for status in (408, 429):
        run = refreshing()
        run.feed(HttpAnswered(2, status, ""), 6.0)
        assert run.deadline() == 6.5 and run.state == "refreshing"


def test_refresh_timeout_aborts_and_retries():
    run = refreshing(5.0)
    assert run.timer(5.0 + REFRESH_TIMEOUT - 0.01) == []
    out = run.timer(5.0 + REFRESH_TIMEOUT)
    assert no_logs(out) == [AbortRequest(2)]
    assert run.deadline() == 5.0 + REFRESH_TIMEOUT + 0.5
    assert run.timer(run.deadline()) == [StartRefresh(3, REFRESH_FILLED)]
    assert run.feed(HttpAnswered(2, 200, refresh_json()), 16.0) == []  # stale


def test_refresh_retries_exhausted_report_and_remount():
    run = refreshing()
    now = 6.0
    request_id = 2
    for _attempt in range(4):
        assert no_logs(run.feed(HttpAnswered(request_id, 502, ""), now)) == []
        now = run.deadline()
        request_id += 1
        assert run.timer(now) == [StartRefresh(request_id, REFRESH_FILLED)]
    out = run.feed(HttpAnswered(request_id, 502, ""), now + 0.1)
    assert error_codes(out) == ["refresh-failed"]
    assert_remounted(out, request_id + 1)
    assert run.state == "minting"
    assert run.session.embed_origin is None
    assert_rejected_only(run, ready(), "origin", now + 0.2)
    body = session_json(token=TOKEN3, launch=LAUNCH2)
    out = run.feed(HttpAnswered(request_id + 1, 200, body), now + 1)
    assert no_logs(out) == [MountIframe(LAUNCH2, 480), SetState("mounted")]
    assert only(run.feed(ready(), now + 2), PostAuth) == [auth(TOKEN3)]


def test_refresh_session_gone_remounts_fresh():
    for status in (401, 403, 404):
        run = refreshing()
        out = run.feed(HttpAnswered(2, status, ""), 6.0)
        assert no_logs(out) == [RemoveIframe(), SetState("minting"), StartMint(3, SESSION_URL, {})]
        assert run.state == "minting" and run.session.session_id is None
        out = run.feed(HttpAnswered(3, 200, session_json(token=TOKEN3, launch=LAUNCH2)), 7.0)
        assert no_logs(out) == [MountIframe(LAUNCH2, 480), SetState("mounted")]
        assert only(run.feed(ready(), 8.0), PostAuth) == [auth(TOKEN3)]
        scan_for_secrets(run.actions, [TOKEN, TOKEN3])


def test_refresh_unusable_answer_remounts():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 200, "{}"), 6.0)
    assert error_codes(out) == ["refresh-failed"]
    assert_remounted(out, 3)


def test_token_expired_refreshes_then_authenticates():
    run = authenticated()
    out = run.feed(token_expired(), 5.0)
    assert no_logs(out) == [
        SetState("expired"),
        Emit("token-expired", {}),
        StartRefresh(2, REFRESH_FILLED),
    ]
    assert run.state == "expired"
    # A ready while expired gets no (expired) token.
    assert run.feed(ready(), 5.5) == [Emit("ready", {})]
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    assert no_logs(out) == [
        Emit("token-refreshed", {"expires_at": EXPIRES2}),
        auth(TOKEN2),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]


def test_token_expired_refresh_gone_remounts():
    run = authenticated()
    run.feed(token_expired(), 5.0)
    out = run.feed(HttpAnswered(2, 404, ""), 6.0)
    assert_remounted(out, 3)


def test_navigate_emits_fields_except_type():
    run = authenticated()
    data = {"type": msg.NAVIGATE, "path": "/workspace/rules", "title": "Rules", "n": 3, "x": None}
    out = run.feed(message(data), 3.0)
    assert out == [
        Emit("navigate", {"path": "/workspace/rules", "title": "Rules", "n": 3, "x": None})
    ]


def test_navigate_drops_fields_holding_the_token():
    run = authenticated()
    data = {"type": msg.NAVIGATE, "path": "/p", "url": "https://e.io/?t=" + TOKEN, "t": TOKEN}
    out = run.feed(message(data), 3.0)
    assert out == [Emit("navigate", {"path": "/p"})]
    out = run.feed(message({"type": msg.NAVIGATE, "path": "/p", TOKEN: "1"}), 3.0)
    assert out == [Emit("navigate", {"path": "/p"})]
    scan_for_secrets(run.actions, [TOKEN])


def test_resize_clamps_and_rounds_up():
    run = authenticated({"data-min-height": "480", "data-max-height": "900"})
    for height, applied in ((100, 480), (500.2, 501), (700, 700), (5000, 900), (0, 480)):
        assert run.feed(resize(height), 3.0) == [RequestFrame()]
        assert run.feed(FrameTick(), 3.1) == [
            SetHeight(applied),
            Emit("resize", {"height": applied}),
        ]


def test_resize_burst_applies_only_the_last_height_once():
    run = authenticated()
    assert run.feed(resize(600), 3.0) == [RequestFrame()]
    for height in (700, 800, 650.5):
        assert run.feed(resize(height), 3.0) == []
    assert run.feed(FrameTick(), 3.02) == [SetHeight(651), Emit("resize", {"height": 651})]
    assert run.feed(FrameTick(), 3.04) == []
    assert run.feed(resize(900), 3.1) == [RequestFrame()]


def test_fractional_min_height_is_never_undercut():
    run = authenticated({"data-min-height": "480.5"})
    assert only(run.actions, MountIframe)[0].height == 481
    run.feed(resize(10), 3.0)
    assert run.feed(FrameTick(), 3.1) == [SetHeight(481), Emit("resize", {"height": 481})]


# -- session: the ready watchdog and the load/ready ordering ------------------------


def test_ready_watchdog_remounts_when_no_ready():
    run = mounted()
    assert run.deadline() == 1.0 + READY_TIMEOUT
    assert run.timer(1.0 + READY_TIMEOUT - 0.01) == []
    out = run.timer(1.0 + READY_TIMEOUT)
    assert error_codes(out) == ["ready-timeout"]
    assert no_logs(out)[-3:] == [RemoveIframe(), SetState("minting"), StartMint(2, SESSION_URL, {})]
    assert run.session.embed_origin is None
    assert_rejected_only(run, ready(), "origin")


def test_ready_watchdog_uses_data_ready_timeout():
    run = mounted({"data-ready-timeout": "3"})
    assert run.deadline() == 4.0
    run.feed(IframeLoaded(), 2.0)
    assert run.deadline() == 5.0
    assert error_codes(run.timer(5.0)) == ["ready-timeout"]


def test_ready_before_load_is_healthy():
    run = mounted()
    assert only(run.feed(ready(), 2.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 2.1) == []
    assert run.deadline() is None
    assert run.timer(100.0) == []
    assert run.state == "authenticated"


def test_ready_after_load_is_healthy():
    run = mounted()
    assert run.feed(IframeLoaded(), 2.0) == []
    assert run.deadline() == 2.0 + READY_TIMEOUT
    assert only(run.feed(ready(), 3.0), PostAuth) == [auth(TOKEN)]
    assert run.deadline() is None
    assert run.timer(100.0) == []
    assert run.state == "authenticated"


def test_hard_reload_without_ready_remounts_after_late_ready():
    # The first document says ready late (after its load, SPA style); then the iframe is
    # hard reloaded and the new document never says ready.
    run = mounted()
    run.feed(IframeLoaded(), 2.0)
    assert only(run.feed(ready(), 16.5), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 20.0) == []
    assert run.deadline() == 20.0 + READY_TIMEOUT
    assert run.timer(34.9) == []
    out = run.timer(35.0)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 2)


def test_hard_reload_without_ready_remounts_after_early_ready():
    run = authenticated()  # ready before load
    assert run.feed(IframeLoaded(), 10.0) == []
    assert run.deadline() == 10.0 + READY_TIMEOUT
    assert_remounted(run.timer(25.0), 2)


def test_hard_reload_with_ready_before_its_load_is_healthy():
    run = authenticated()
    assert only(run.feed(ready(), 10.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 10.1) == []
    assert run.deadline() is None
    assert run.timer(100.0) == []


def test_repeated_ready_long_before_a_hard_reload_does_not_vouch_for_it():
    # The document says ready twice (both answered); much later the iframe is hard
    # reloaded and the new document never says ready: the watchdog must still fire.
    run = authenticated({"data-ready-timeout": "3"})
    assert only(run.feed(ready(), 5.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 20.0) == []
    assert run.deadline() == 23.0
    out = run.timer(23.0)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 2)


def test_a_second_start_does_nothing():
    run = mounted()
    assert run.feed(Start(), 3.0) == []
    assert run.state == "mounted"


def test_remount_cancels_a_pending_frame():
    run = authenticated({"data-ready-timeout": "3"})
    assert only(run.feed(resize(900), 3.0), RequestFrame) == [RequestFrame()]
    out = run.feed(IframeLoaded(), 4.0)  # hard reload, the new document never says ready
    out = run.timer(7.0)
    assert CancelFrame() in out
    assert out.index(CancelFrame()) < out.index(RemoveIframe())
    run.feed(HttpAnswered(2, 200, session_json(token=TOKEN2, sid="sess_2")), 8.0)
    assert not only(run.feed(FrameTick(), 8.1), SetHeight)


def test_an_old_token_echoed_after_a_refresh_is_still_kept_out():
    run = refreshing(5.0)
    run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    out = run.feed(message({"type": "meshes:navigate", "page": "x", "echo": TOKEN}), 7.0)
    assert only(out, Emit) == [Emit("navigate", {"page": "x"})]
    out = run.feed(HttpAnswered(99, 500, "x"), 8.0)
    for action in run.feed(message({"type": "meshes:resize", "height": TOKEN}), 9.0):
        assert TOKEN not in repr(action) and TOKEN2 not in repr(action)


def test_hard_reload_without_ready_gets_no_token_from_a_refresh():
    run = refreshing(5.0)
    assert run.feed(IframeLoaded(), 5.5) == []  # hard reload, no ready yet
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    assert not only(out, PostAuth)
    assert run.state == "mounted"
    assert only(run.feed(ready(), 7.0), PostAuth) == [auth(TOKEN2)]


def test_refresh_answer_after_reload_while_authenticated():
    # A ready lands while a refresh is in flight (state authenticated again), then the
    # iframe is hard reloaded: the refresh answer must not post, nor break the machine.
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    run.feed(token_refresh(), 2.0)
    assert only(run.feed(ready(), 2.5), PostAuth) == [auth(TOKEN)]
    assert run.state == "authenticated"
    run.feed(IframeLoaded(), 3.0)
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 3.5)
    assert not only(out, PostAuth)
    assert run.state == "mounted"
    assert only(run.feed(ready(), 4.0), PostAuth) == [auth(TOKEN2)]


def to_remount_limit():
    """Mounted, then MAX_REMOUNTS fresh sessions that never say ready: the next ready
    timeout gives up. Returns the run and that last timer's actions."""
    run = mounted()
    mint_id = 1
    for _ in range(MAX_REMOUNTS):
        now = run.deadline()
        mint_id += 1
        assert_remounted(run.timer(now), mint_id)
        out = run.feed(HttpAnswered(mint_id, 200, session_json()), now + 1)
        assert only(out, MountIframe)
    return run, run.timer(run.deadline())


def test_remount_limit():
    run, out = to_remount_limit()
    assert error_codes(out) == ["ready-timeout", "remount-limit"]
    assert RemoveIframe() in out and not only(out, StartMint)
    assert run.state == "error" and run.deadline() is None


def test_authentication_resets_the_remount_count():
    run = mounted()
    mint_id = 1
    for _ in range(MAX_REMOUNTS * 2):
        now = run.deadline()
        mint_id += 1
        assert_remounted(run.timer(now), mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 1)
        run.feed(ready(), now + 1.1)
        run.feed(IframeLoaded(), now + 1.2)
        assert run.state == "authenticated"
        run.feed(IframeLoaded(), now + 2)  # a hard reload that never says ready
    assert run.state == "authenticated"


def test_messages_in_error_state_change_nothing():
    run, _ = to_remount_limit()
    assert run.state == "error"
    for event in (ready(), token_refresh(), token_expired(), resize(600), IframeLoaded()):
        out = run.feed(event, 200.0)
        assert not only(out, SetState) and not only(out, StartRefresh), out
        assert not only(out, PostAuth)
        assert run.state == "error"
    assert run.deadline() is None


# -- session: teardown, stale answers, the table ------------------------------------


def test_teardown_while_minting_aborts():
    run = started()
    assert run.feed(Teardown(), 1.0) == [AbortRequest(1)]
    assert run.deadline() is None
    assert run.feed(HttpAnswered(1, 200, session_json()), 2.0) == []
    assert run.timer(100.0) == []


def test_teardown_aborts_requests_cancels_frame_removes_iframe():
    run = refreshing()
    run.feed(resize(600), 5.5)
    out = run.feed(Teardown(), 6.0)
    assert out == [AbortRequest(2), CancelFrame(), RemoveIframe()]
    assert run.deadline() is None
    for event in (
        HttpAnswered(2, 200, refresh_json()),
        ready(),
        FrameTick(),
        IframeLoaded(),
        Start(),
        Teardown(),
    ):
        assert run.feed(event, 7.0) == []
    assert run.timer(1000.0) == []


def test_teardown_with_a_retry_pending():
    run = refreshing()
    run.feed(HttpAnswered(2, 500, ""), 6.0)
    assert run.feed(Teardown(), 6.1) == [RemoveIframe()]
    assert run.timer(100.0) == []


def test_stale_http_answers_are_ignored():
    run = refreshing()
    run.feed(HttpAnswered(2, 401, ""), 6.0)  # remount: mint request 3
    for event in (
        HttpAnswered(2, 200, refresh_json()),
        HttpFailed(2, "late"),
        HttpAnswered(1, 200, session_json(token=TOKEN3)),
        HttpAnswered(99, 200, session_json(token=TOKEN3)),
        HttpFailed(99, "?"),
    ):
        assert run.feed(event, 6.5) == []
        assert run.state == "minting"
    assert run.deadline() == 6.0 + MINT_TIMEOUT


def test_a_second_start_is_ignored_even_in_error():
    run = started()
    run.feed(HttpAnswered(1, 400, ""), 1.0)
    assert run.feed(Start(), 2.0) == []
    assert run.state == "error"


def test_an_input_missing_from_the_table_fails_safe():
    run = refreshing()  # authenticated, refresh request 2 pending
    run.feed(resize(900), 5.5)  # a frame requested too
    table = {}
    for state in TABLE:
        table[state] = dict(TABLE[state])
    del table["refreshing"]["token-expired"]
    run.session._table = table
    out = run.feed(token_expired(), 6.0)
    assert out[:3] == [AbortRequest(2), CancelFrame(), RemoveIframe()], out
    assert SetState("error") in out and run.state == "error"
    assert error_codes(out) == ["internal"]
    assert only(out, Emit)[0].detail["message"] == "internal error: StateError"
    assert not only(out, StartRefresh) and not only(out, PostAuth)
    assert run.session._tokens.token is None
    assert run.deadline() is None
    assert run.feed(ready(), 7.0) == [] and run.timer(100.0) == []


def test_token_never_leaks_in_a_long_scenario():
    run = Run(debug=True)
    run.feed(Start(), 0.0)
    spoof = json.dumps({"type": msg.READY, "token": TOKEN, "x": TOKEN})
    run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    run.feed(MessageReceived("https://evil.example", True, data_of(spoof)), 1.1)
    run.feed(MessageReceived(EMBED, False, data_of(spoof)), 1.2)
    run.feed(MessageReceived(EMBED, True, data_of('{"type": "meshes:x", "' + TOKEN + '": 1}')), 1.3)
    run.feed(
        MessageReceived(EMBED, True, data_of('{"type": "meshes:ready", "' + TOKEN + '": {}}')), 1.4
    )
    run.feed(ready(), 2.0)
    run.feed(IframeLoaded(), 2.1)
    run.feed(message({"type": msg.NAVIGATE, "path": "/p#" + TOKEN, "token": TOKEN}), 2.2)
    run.feed(token_refresh(), 3.0)
    run.feed(HttpFailed(2, "failed with " + TOKEN), 3.1)
    run.timer(run.deadline())
    run.feed(HttpAnswered(3, 500, "echo " + TOKEN), 4.0)
    run.timer(run.deadline())
    run.feed(HttpAnswered(4, 200, refresh_json()), 6.0)
    run.feed(message({"type": msg.NAVIGATE, "a": TOKEN2, "b": "x" + TOKEN2}), 6.1)
    run.feed(token_expired(), 7.0)
    run.feed(HttpAnswered(5, 200, "{" + TOKEN2), 7.1)  # unusable: remount
    run.feed(HttpAnswered(6, 200, session_json(token=TOKEN3, launch=LAUNCH2)), 8.0)
    run.feed(ready(), 9.0)
    run.feed(resize(700), 9.1)
    run.feed(FrameTick(), 9.2)
    run.feed(IframeLoaded(), 9.3)
    run.feed(IframeLoaded(), 9.4)  # a hard reload that never says ready
    run.timer(run.deadline())
    run.feed(HttpAnswered(7, 200, session_json(token=TOKEN, launch="http://evil.example/")), 30)
    run.feed(Teardown(), 31.0)
    posted = [a.message["token"] for a in only(run.actions, PostAuth)]
    assert posted == [TOKEN, TOKEN2, TOKEN3]
    for action in only(run.actions, PostAuth):
        assert action.target_origin == EMBED
    assert error_codes(run.actions) == ["refresh-failed", "ready-timeout", "launch-url"]
    scan_for_secrets(run.actions, [TOKEN, TOKEN2, TOKEN3])


# -- configuration in the core -----------------------------------------------------


def test_start_parses_the_attributes():
    session = EmbedSession(None)
    attrs = attrs_with({"data-session-body": '{"launch_page": "rules"}'})
    out = session.handle(Start(attrs, PAGE), 0.0)
    assert out == [SetState("minting"), StartMint(1, SESSION_URL, {"launch_page": "rules"})], out
    assert session.config.session_body == {"launch_page": "rules"}


def test_start_with_bad_attributes_is_a_config_error():
    session = EmbedSession(None)
    out = session.handle(Start(attrs_with({"data-min-height": "tall"}), PAGE), 0.0)
    assert out[0] == SetState("error"), out
    assert error_codes(out) == ["config"]
    assert only(out, Emit)[0].detail["message"].startswith("data-min-height: ")
    assert only(out, Log)[0].level == "error"
    assert not only(out, StartMint)
    assert session.next_deadline() is None


def test_start_request_carries_the_csrf_pair():
    extra = {"data-csrf-cookie": "csrftoken", "data-csrf-header": "X-CSRFToken"}
    run = started(extra)
    mint = only(run.actions, StartMint)[0]
    assert (mint.csrf_cookie, mint.csrf_header) == ("csrftoken", "X-CSRFToken")
    run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    run.feed(ready(), 2.0)
    out = run.feed(token_refresh(), 3.0)
    assert only(out, StartRefresh) == [
        StartRefresh(2, REFRESH_FILLED, {}, "csrftoken", "X-CSRFToken")
    ], out


# -- the loader's early mint ------------------------------------------------------

HREF = PAGE + SESSION_URL


def early(**changes):
    fields = {
        "url": SESSION_URL,
        "href": HREF,
        "body_text": "{}",
        "csrf_cookie": None,
        "csrf_header": None,
        "csrf_value": None,
        "href_now": HREF,
        "cookie_now": None,
    }
    for key in changes:
        fields[key] = changes[key]
    return EarlyMint(
        fields["url"],
        fields["href"],
        fields["body_text"],
        fields["csrf_cookie"],
        fields["csrf_header"],
        fields["csrf_value"],
        fields["href_now"],
        fields["cookie_now"],
    )


def test_early_mint_adopted_when_it_is_the_same_request():
    session = EmbedSession(None)
    out = session.handle(Start(attrs_with({}), PAGE, early()), 0.0)
    assert out == [SetState("minting"), AdoptEarlyMint(1)], out
    out = session.handle(HttpAnswered(1, 200, session_json()), 0.5)
    assert only(out, MountIframe), out
    # The same body in other words, and the same CSRF pair and value, are the same request.
    extra = {
        "data-session-body": '{"b": [1, 2], "a": "x"}',
        "data-csrf-cookie": "c",
        "data-csrf-header": "X-C",
    }
    same = early(
        body_text='{"a":"x","b":[1,2]}',
        csrf_cookie="c",
        csrf_header="X-C",
        csrf_value="v1",
        cookie_now="v1",
    )
    out = EmbedSession(None).handle(Start(attrs_with(extra), PAGE, same), 0.0)
    assert out == [SetState("minting"), AdoptEarlyMint(1)], out


def test_early_mint_discarded_when_it_differs():
    extra = {"data-csrf-cookie": "c", "data-csrf-header": "X-C"}
    csrf = {"csrf_cookie": "c", "csrf_header": "X-C", "csrf_value": "v1", "cookie_now": "v1"}
    cases = (
        ({}, {"url": "/other"}),
        ({}, {"href_now": PAGE + "/app/meshes/session"}),  # the page moved (pushState)
        ({}, {"href_now": None}),
        ({}, {"body_text": '{"launch_page": "rules"}'}),
        ({}, {"body_text": "not json"}),
        ({}, {"body_text": "[]"}),
        ({}, {"csrf_cookie": "c", "csrf_header": "X-C"}),
        (extra, {}),  # sent without the CSRF pair the container names
        (extra, dict(csrf, cookie_now="v2")),  # the cookie changed since
        (extra, dict(csrf, csrf_header="X-D")),
    )
    for attrs, changes in cases:
        session = EmbedSession(None)
        out = session.handle(Start(attrs_with(attrs), PAGE, early(**changes)), 0.0)
        assert out[0] == SetState("minting"), (changes, out)
        assert DiscardEarlyMint() in out, (changes, out)
        assert only(out, StartMint) and not only(out, AdoptEarlyMint), (changes, out)
    out = EmbedSession(None).handle(Start(attrs_with(extra), PAGE, early(**csrf)), 0.0)
    assert only(out, AdoptEarlyMint), out


def test_early_mint_discarded_on_a_config_error():
    session = EmbedSession(None)
    out = session.handle(Start(attrs_with({"data-min-height": "x"}), PAGE, early()), 0.0)
    assert DiscardEarlyMint() in out and error_codes(out) == ["config"], out


def test_early_mint_repr_hides_the_csrf_value():
    assert "v1-secret" not in repr(early(csrf_value="v1-secret", cookie_now="v1-secret"))


# -- runaway guards -----------------------------------------------------------------


def test_iframe_lost_mints_afresh_on_the_same_machine():
    run = authenticated()
    out = run.feed(IframeLost(), 3.0)
    assert_remounted(out, 2)
    assert only(out, Log)[0].level == "warn"
    assert not run.session.wants_fields(EMBED, True)  # no iframe: nothing to read
    out = run.feed(IframeLost(), 3.1)  # no iframe now: nothing more to lose
    assert out == [], out


def test_iframe_lost_again_and_again_hits_the_remount_cap():
    run = mounted()
    mint_id = 1
    for attempt in range(MAX_REMOUNTS):
        now = 2.0 + attempt
        out = run.feed(IframeLost(), now)
        mint_id += 1
        assert_remounted(out, mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 0.5)
    out = run.feed(IframeLost(), 10.0)
    assert error_codes(out) == ["remount-limit"] and run.state == "error", out


def test_mint_budget_holds_across_iframe_swaps():
    run = authenticated()  # mint 1 at t=0
    mint_id = 1
    now = 2.5
    # Swapped out after each authentication: the remount cap resets, the budget does not.
    for _ in range(MINT_BUDGET - 1):
        now += 1.0
        mint_id += 1
        assert_remounted(run.feed(IframeLost(), now), mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 0.1)
        run.feed(ready(), now + 0.2)
        assert run.state == "authenticated"
    out = run.feed(IframeLost(), now + 1.0)
    assert not only(out, StartMint) and run.state == "minting", out
    assert "next one in" in only(out, Log)[-1].text
    assert run.deadline() == BUDGET_WINDOW  # when the first mint (t=0) leaves the window
    assert run.timer(BUDGET_WINDOW - 0.01) == []
    assert run.timer(BUDGET_WINDOW) == [StartMint(mint_id + 1, SESSION_URL, {})]


def test_refresh_loop_is_bounded_and_reported_once():
    run = authenticated()
    request_id = 1
    now = 3.0
    for _ in range(REFRESH_BUDGET):
        request_id += 1
        out = run.feed(token_refresh(), now)
        assert only(out, StartRefresh) == [StartRefresh(request_id, REFRESH_FILLED)], out
        run.feed(HttpAnswered(request_id, 200, refresh_json()), now + 0.1)
        now += 1.0
    out = run.feed(token_refresh(), now)
    assert not only(out, StartRefresh), out
    assert error_codes(out) == ["refresh-loop"], out
    assert run.state == "refreshing"
    for extra in range(20):  # the loop goes on: no request, no second error
        out = run.feed(token_refresh(), now + 0.1 + extra * 0.01)
        assert not only(out, StartRefresh) and not error_codes(out), out
    assert run.deadline() == 3.0 + BUDGET_WINDOW
    out = run.timer(3.0 + BUDGET_WINDOW)
    assert out == [StartRefresh(request_id + 1, REFRESH_FILLED)], out
    out = run.feed(HttpAnswered(request_id + 1, 200, refresh_json(TOKEN3)), 64.0)
    assert auth(TOKEN3) in out and run.state == "authenticated", out


# -- failing safe ---------------------------------------------------------------------


def test_an_exception_in_the_core_fails_safe():
    run = refreshing()  # authenticated, refresh request 2 pending
    run.feed(resize(900), 5.5)  # a frame requested too

    def broken(now):
        raise KeyError("tok_SECRET_in_the_exception_text")

    run.session._on_ready = broken  # inject a fault
    out = run.feed(ready(), 6.0)
    assert out[:3] == [AbortRequest(2), CancelFrame(), RemoveIframe()], out
    assert SetState("error") in out and run.state == "error"
    assert error_codes(out) == ["internal"]
    assert only(out, Emit)[0].detail["message"] == "internal error: KeyError"
    assert not only(out, PostAuth)
    scan_for_secrets(out, ["tok_SECRET_in_the_exception_text", TOKEN])
    assert run.session._tokens.token is None
    assert run.deadline() is None
    assert run.feed(ready(), 7.0) == [] and run.timer(100.0) == []
    assert run.feed(HttpAnswered(2, 200, refresh_json()), 7.0) == []


def test_an_exception_in_a_timer_fails_safe():
    run = mounted()  # ready watchdog pending

    def broken(*args):
        raise ValueError("boom")

    run.session._remount = broken
    out = run.timer(run.deadline())
    assert error_codes(out) == ["internal"] and run.state == "error", out
    assert RemoveIframe() in out and run.deadline() is None


def test_wants_fields_only_from_the_iframe_on_the_embed_origin():
    run = started()
    assert not run.session.wants_fields(EMBED, True)  # no iframe yet
    run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    assert run.session.wants_fields(EMBED, True)
    assert not run.session.wants_fields(EMBED, False)
    assert not run.session.wants_fields("https://evil.example", True)


# -- a runner for the browser (no pytest there) -------------------------------------


def run_all():
    """Run every test_* function here; returns (passed, failed, ["name: error", ...])."""
    passed = 0
    failures = []
    namespace = globals()
    for name in sorted(namespace):
        test = namespace[name]
        if not name.startswith("test_") or not callable(test):
            continue
        try:
            test()
        except Exception as exc:  # report every failure, keep going
            failures.append(name + ": " + type(exc).__name__ + " " + str(exc))
        else:
            passed += 1
    return passed, len(failures), failures
