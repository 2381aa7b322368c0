"""The backend's answers to the mint and the refresh, parsed."""

import json

from meshes_bridge.core.responses import (
    ResponseError,
    failure_text,
    parse_refresh,
    parse_session,
)
from tests.core.helpers import (
    EXPIRES,
    EXPIRES2,
    LAUNCH,
    SID,
    TOKEN,
    TOKEN2,
    raises,
    refresh_json,
    session_json,
)


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


def test_fields_with_control_characters_or_lone_surrogates_are_refused():
    # ASCII text takes a quicker check than the rest: both must refuse the same.
    for prefix in ("tok_", "tok_\u00e9"):
        for bad in ("\\u0000", "\\u0001", "\\n", "\\u001f", "\\u007f", "\\ud800"):
            text = '{"access_token": "' + prefix + "abc" + bad + 'def"}'
            raises(ResponseError, parse_refresh, text)
        for good in (" ", "~", "\\u0080", "\\u00e9"):
            text = '{"access_token": "' + prefix + "abc" + good + 'def"}'
            assert parse_refresh(text).access_token.startswith(prefix + "abc"), text


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
