"""A container's attributes and the loader's options, parsed; and the session that
parses them on its start."""

from meshes_bridge.core.actions import Emit, Log, SetState, StartMint, StartRefresh
from meshes_bridge.core.config import (
    CONTAINER_ATTRIBUTES,
    ConfigError,
    parse_container,
    parse_flag,
    parse_loader_options,
)
from meshes_bridge.core.inputs import HttpAnswered, Start
from meshes_bridge.core.session import EmbedSession
from tests.core.helpers import (
    EMBED,
    PAGE,
    REFRESH_FILLED,
    REFRESH_URL,
    SESSION_URL,
    attrs_with,
    error_codes,
    make_config,
    only,
    raises,
    ready,
    session_json,
    started,
    token_refresh,
)


def config_error(extra, attribute=None):
    """parse_container must refuse; the ConfigError names `attribute` when given."""
    exc = raises(ConfigError, parse_container, attrs_with(extra), PAGE)
    if attribute is not None:
        assert exc.attribute == attribute, (extra, exc.attribute)
        assert exc.message.startswith(attribute + ": ")
    return exc


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


def test_start_parses_the_attributes():
    session = EmbedSession(None)
    attrs = attrs_with({"data-session-body": '{"launch_page": "rules"}'})
    out = session.handle(Start(attrs, PAGE), 0.0)
    assert out == [StartMint(1, SESSION_URL, {"launch_page": "rules"}), SetState("minting")], out
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
