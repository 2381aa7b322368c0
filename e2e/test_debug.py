"""Debug logging (host interface 2, script tag `data-debug`): message traffic goes to the
console (ready, auth sent, resize, ...) with `[redacted]` in place of any token; without
`data-debug` there is no per-message line."""

from __future__ import annotations

import json

import pytest

from e2e.harness import HostPage

PREFIX = "[meshes-bridge] "
FAKE_TOKEN = "mat_not_the_real_one_4c1d"


def _bridge_lines(host: HostPage) -> list[str]:
    return [line for line in host.console if PREFIX in line]


def _assert_no_token(host: HostPage) -> None:
    text = "\n".join(host.console)
    for token in host.access_tokens():
        assert token not in text
    assert FAKE_TOKEN not in text


def test_debug_logs_traffic_with_tokens_redacted(host: HostPage) -> None:
    host.open(script_attrs={"data-debug": True})
    host.wait_authenticated()
    host.wait_event("resize")
    embed = host.servers.embed_url

    [ready] = host.wait_console(PREFIX, "received {'type': 'meshes:ready'}")
    [sent] = host.wait_console(PREFIX, "sent meshes:auth")
    assert sent.startswith("debug: ")
    assert sent.endswith(f"sent meshes:auth (token [redacted]) to {embed}")
    assert host.console.index(ready) < host.console.index(sent)
    height = host.events("resize")[0]["detail"]["height"]
    host.wait_console(PREFIX, "received {", "'type': 'meshes:resize'", f"'height': {height}")

    # A refresh: the ask, then the new token sent, again redacted.
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    host.wait_console(PREFIX, "received {'type': 'meshes:token-refresh'}")
    host.wait_console(PREFIX, "sent meshes:auth (token [redacted])", count=2)

    # A message carrying token-like values: a field named token, and the real token under
    # another name. Both are [redacted] in the log line.
    real = host.servers.fake.access_token(host.stub("status()")["session_id"])
    message = {"type": "meshes:navigate", "page": "rules", "token": FAKE_TOKEN, "note": real}
    host.frame().evaluate("m => window.stub.postRaw(m)", message)
    [navigate] = host.wait_event("navigate")
    assert "note" not in navigate["detail"]  # the real token never reaches an event
    [line] = host.wait_console(PREFIX, "received {", "'type': 'meshes:navigate'")
    assert "'token': '[redacted]'" in line and "'note': '[redacted]'" in line
    assert "'page': 'rules'" in line
    _assert_no_token(host)
    assert real not in json.dumps(host.events())


@pytest.mark.parametrize("debug", [None, "no"], ids=["absent", "no"])
def test_without_debug_no_message_lines(host: HostPage, debug: str | None) -> None:
    # data-debug="no" is off, as are "false", "0" and "off".
    host.open(script_attrs={"data-debug": debug})
    host.wait_authenticated()
    host.wait_event("resize")
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    host.stub("navigate('rules')")
    host.wait_event("navigate")
    host.stub("resize(700)")
    host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === 700)"
    )
    # The bridge did speak (its info lines), but logged no message traffic.
    lines = _bridge_lines(host)
    assert [line for line in lines if "minted session" in line], lines
    assert [line for line in lines if line.startswith("debug:")] == []
    for text in ("received", "sent meshes:auth", "meshes:ready", "meshes:resize"):
        assert not [line for line in lines if text in line], (text, lines)
    _assert_no_token(host)
