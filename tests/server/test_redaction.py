"""`redact_text`, property-style: no token shape gets through, in any wrapping, and what
helps debugging (session ids, UUIDs, the API's paths, an embed origin) stays."""

from __future__ import annotations

import json
import re
import string
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshes_bridge.server.errors import MeshesAPIError, MeshesValidationError
from meshes_bridge.server.redaction import REDACTED, redact_text
from meshes_bridge.testing.doubles.transcript import (
    ACCESS_TOKEN_PREFIX,
    LAUNCH_TOKEN_PREFIX,
    SECRET_KEY_PREFIX,
)

#: The characters of Meshes' tokens (URL-safe base64), and the same without digits: about
#: one random 32-character token in 1,600 has no digit.
ALPHABET = string.ascii_letters + string.digits + "-_"
NO_DIGITS = string.ascii_letters + "-_"
LAUNCH_PAGES = ("dashboard", "connections", "rules", "events")
LAUNCH_WORDS = {"workspace", "launch", *LAUNCH_PAGES}
EMBED_ORIGINS = (
    "https://embed.meshes.io",
    "http://127.0.0.1:5173",
    "https://meshes.example.com:8443",
)
NO_LIMIT = 100_000
#: What Meshes' access tokens, launch tokens and machine secret keys start with.
TOKEN_PREFIXES = (ACCESS_TOKEN_PREFIX, LAUNCH_TOKEN_PREFIX, SECRET_KEY_PREFIX)

bodies = st.one_of(
    st.text(ALPHABET, min_size=16, max_size=48),
    st.text(NO_DIGITS, min_size=16, max_size=48),
)


@st.composite
def cut(draw: st.DrawFn, body: str) -> str:
    """`body` cut by up to three `/` or `.` (a token wrapped or mangled on its way)."""
    cuts = draw(st.lists(st.tuples(st.integers(0, len(body)), st.sampled_from("/.")), max_size=3))
    for position, separator in sorted(cuts, reverse=True):
        body = body[:position] + separator + body[position:]
    return body


@st.composite
def prefixed_tokens(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(TOKEN_PREFIXES)) + draw(bodies.flatmap(cut))


#: Wrappings a token meets: prose, a header, Meshes' JSON error bodies (`json:`), the same
#: from a server that writes `/` as `\/` (`escaped:`).
WRAPPINGS = (
    "Meshes said: bad token {t}, please mint again.",
    "bad token {t}.",
    "({t})",
    "{t}",
    "\n{t}\n",
    "X-Token: {t}; retry",
    "token={t}&next=1",
    'json:{"error": "invalid_request", "message": "token {t} is not valid"}',
    'json:{"data": ["{t}", "{t}"], "hint": "x"}',
    'escaped:{"message": "expired: {t}"}',
)


def wrap(wrapping: str, token: str) -> tuple[str, str]:
    """The text holding `token` as `wrapping` says, and the token as it appears there."""
    kind, _, template = wrapping.partition(":")
    if kind == "json":
        return template.replace("{t}", json.dumps(token)[1:-1]), token
    if kind == "escaped":
        escaped = json.dumps(token)[1:-1].replace("/", "\\/")
        return template.replace("{t}", escaped), escaped
    return wrapping.replace("{t}", token), token


def assert_gone(out: str, token: str, around: str) -> None:
    """Neither the token nor any long piece of it (between `/` and `.`) is in `out`;
    pieces that are words of the text around it, or of a launch URL, do not count."""
    assert token not in out
    for piece in re.split(r"[/.\\]+", token):
        if len(piece) >= 8 and piece not in around and piece.lower() not in LAUNCH_WORDS:
            assert piece not in out, (piece, out)


@settings(max_examples=400, deadline=None, database=None)
@given(token=prefixed_tokens(), wrapping=st.sampled_from(WRAPPINGS))
def test_no_prefixed_token_survives(token: str, wrapping: str) -> None:
    text, shown = wrap(wrapping, token)
    out = redact_text(text, limit=NO_LIMIT)
    assert_gone(out, shown, wrapping)
    assert_gone(out, token, wrapping)


@settings(max_examples=400, deadline=None, database=None)
@given(
    origin=st.sampled_from(EMBED_ORIGINS),
    page=st.sampled_from(LAUNCH_PAGES),
    form=st.sampled_from(
        (
            "{o}/workspace/{p}?launch={t}",
            "{o}/workspace/{p}?launch={t}&theme=dark",
            "{o}/workspace/{p}/{t}",
            "{o}/workspace/{p}/launch/{t}",
            "{o}/launch/{t}",
            "{o}/launch?token={t}",
        )
    ),
    token=st.one_of(
        bodies.flatmap(cut),
        bodies.flatmap(cut).map(lambda body: "mlt_" + body),
    ),
    wrapping=st.sampled_from(WRAPPINGS),
)
def test_no_launch_token_survives_in_a_launch_url(
    origin: str, page: str, form: str, token: str, wrapping: str
) -> None:
    url = form.format(o=origin, p=page, t=token)
    text, _ = wrap(wrapping, url)
    out = redact_text(text, limit=NO_LIMIT)
    around = wrapping + form.format(o=origin, p=page, t="")
    assert_gone(out, token, around)
    assert_gone(out, token.replace("/", "\\/"), around)
    assert REDACTED in out
    if not re.search(r"(?i)token\s*[:=]\s*$", wrapping.split("{t}")[0]):
        assert origin.split("//")[1] in out  # where it pointed still shows


@settings(max_examples=200, deadline=None, database=None)
@given(
    session=st.uuids(),
    workspace=st.uuids(),
    token=prefixed_tokens(),
    wrapping=st.sampled_from(WRAPPINGS),
)
def test_session_ids_and_uuids_are_kept(
    session: uuid.UUID, workspace: uuid.UUID, token: str, wrapping: str
) -> None:
    line = f"session sess_{session} of workspace {workspace}: refresh refused"
    text, _ = wrap(wrapping, token)
    out = redact_text(f"{line} ({text})", limit=NO_LIMIT)
    assert out.startswith(line)
    api = f"https://api.meshes.io/api/v1/sessions/sess_{session}/refresh?workspace_id={workspace}"
    assert redact_text(f"POST {api} answered 502") == f"POST {api} answered 502"


@pytest.mark.parametrize(
    "kept",
    [
        "Meshes unavailable on mint: HTTP 502 Bad Gateway, code bad_gateway",
        "could not revoke Meshes session sess_0b6c53f7-3c0f-4a5e-9d6c-2f4f0a1b2c3d",
        "the store failed (ConnectionRefusedError) in MeshesCredentialsError",
        "code service_unavailable_for_maintenance, field allowed_origins",
        "format_string and x_mat are words",
    ],
)
def test_what_helps_debugging_is_kept(kept: str) -> None:
    assert redact_text(kept) == kept


@pytest.mark.parametrize(
    "leaky",
    [
        "mat_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",  # no digit
        "mat_abcdefghij/klmnopqrstu.vwxyzABCDEFGHIJ",  # cut by `/` and `.`
        "mat_0000000eyJ.0./00000000",  # a JWT-shaped piece inside
        "https://embed.meshes.io/launch/abcdefghijklmnopqrstuvwxyzABCD",  # in a path
        "https://embed.meshes.io/workspace/rules/AbCdEfGhIjKlMnOpQrSt",
    ],
)
def test_shapes_the_attack_review_found(leaky: str) -> None:
    secret = leaky.rsplit("/", 1)[-1].removeprefix("mat_")
    assert secret not in redact_text(f"Meshes said: {leaky} is bad")


def test_an_error_text_holds_status_code_and_our_words_only() -> None:
    """`str(error)` (what the server half logs) never holds Meshes' message, whatever it
    says, and shows a code or field only when it is shaped like one."""
    echo = "token mat_abcdefghijklmnopqrstuvwxyzABCDEFGH was refused, see https://x.io/a"
    error = MeshesAPIError("create_session", 400, "validation_error", echo, "role")
    assert str(error) == (
        "Meshes create_session failed: HTTP 400 Bad Request, code validation_error, field role"
    )
    assert error.message == echo and error.status == 400 and error.code == "validation_error"
    odd = MeshesValidationError(
        "refresh_session", 422, "mat_abcdefghijklmnopq", "", "has spaces in it"
    )
    assert "mat_abc" not in str(odd) and "spaces" not in str(odd)
    assert str(odd).count(REDACTED) == 2
    mine = MeshesAPIError("list_sessions", None, "bad_response", detail="a cursor repeated")
    assert str(mine) == "Meshes list_sessions failed, code bad_response: a cursor repeated"


def test_a_huge_text_costs_little_and_leaks_nothing() -> None:
    """A long answer is cut before the scan (some patterns are quadratic on `eyJeyJ...`)."""
    token = "mat_" + "Ab3" * 20
    hostile = "eyJ" * 100_000 + f" said {token} " + "x" * 50_000
    out = redact_text(hostile)
    assert len(out) <= 300 and "Ab3Ab3" not in out
