"""The mint's answer (used, or refused with its error code) and the loader's early
mint request (carried on, or discarded)."""

import json

from meshes_bridge.core.actions import (
    AdoptEarlyMint,
    DiscardEarlyMint,
    Emit,
    Log,
    MountIframe,
    SetState,
    StartMint,
)
from meshes_bridge.core.inputs import EarlyMint, HttpAnswered, Start
from meshes_bridge.core.origins import parse_origin
from meshes_bridge.core.session import EmbedSession
from tests.core.helpers import (
    EMBED,
    LAUNCH,
    PAGE,
    READY_TIMEOUT,
    SESSION_URL,
    SID,
    TOKEN,
    attrs_with,
    error_codes,
    mounted,
    no_logs,
    only,
    scan_for_secrets,
    session_json,
    started,
)

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
        assert isinstance(out[0], StartMint), (changes, out)
        assert out[1] == SetState("minting"), (changes, out)
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
