"""Property tests of the sans-IO core (CPython only: hypothesis).

The portable unit tests pin exact behaviour on chosen inputs; these check that the
rules hold on inputs nobody chose: parsers never raise (or raise only their own
error), well-formed messages round-trip, origins are idempotent, redaction is
complete, and EmbedSession under random input sequences keeps its promises.
"""

import json
import math
import os
import string
import urllib.parse

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from meshes_bridge.core import messages as msg
from meshes_bridge.core.actions import (
    AbortRequest,
    CancelFrame,
    Emit,
    Log,
    MountIframe,
    PostAuth,
    PostTimings,
    RemoveIframe,
    RequestFrame,
    SetHeight,
    SetState,
    StartMint,
    StartRefresh,
)
from meshes_bridge.core.config import CONTAINER_ATTRIBUTES, ConfigError, parse_container
from meshes_bridge.core.inputs import (
    FrameTick,
    HttpAnswered,
    HttpFailed,
    IframeLoaded,
    MessageReceived,
    Start,
    Teardown,
)
from meshes_bridge.core.origins import (
    OriginError,
    check_embed_origin,
    parse_origin,
    parse_origin_only,
    quote_component,
)
from meshes_bridge.core.redact import REDACTED, redact
from meshes_bridge.core.resize import clamp_height
from meshes_bridge.core.responses import ResponseError, parse_refresh, parse_session
from meshes_bridge.core.session import EmbedSession
from meshes_bridge.core.timings import STEPS
from meshes_bridge.core.transitions import DROPPED, TABLE

PAGE = "https://host.example"
EMBED = "https://embed.meshes.io"
SESSION_URL = "/meshes/session"
REFRESH_URL = "/meshes/session/{session_id}/refresh"
REASONS = {"origin", "source", "too-large", "shape", "unknown-type"}
MESSAGE_VALUES = (
    msg.Ready,
    msg.TokenRefreshAsked,
    msg.TokenExpired,
    msg.NavigateAsked,
    msg.ResizeAsked,
)
KNOWN_TYPES = [msg.READY, msg.TOKEN_REFRESH, msg.TOKEN_EXPIRED, msg.NAVIGATE, msg.RESIZE]
EVENT_NAMES = {
    "ready",
    "authenticated",
    "navigate",
    "resize",
    "token-refreshed",
    "token-expired",
    "rejected",
    "error",
    "timings",
}
# The moves the model allows, written here on their own: the session's table must never
# take a move outside them.
LEGAL_MOVES = {
    "booting": ("minting", "error"),
    "minting": ("mounted", "error"),
    "mounted": ("authenticated", "refreshing", "expired", "minting", "error"),
    # -> mounted: a refresh answered after a hard reload whose document has not said
    # ready yet (a ready during the refresh had made the state authenticated again).
    "authenticated": ("mounted", "refreshing", "expired", "minting", "error"),
    "refreshing": ("authenticated", "mounted", "expired", "minting", "error"),
    "expired": ("authenticated", "mounted", "minting", "error"),
    "error": (),
}
ERROR_CODES = {
    "mint-failed",
    "mint-invalid",
    "launch-url",
    "embed-origin",
    "refresh-failed",
    "ready-timeout",
    "refresh-loop",
    "remount-limit",
}

# -- strategies -------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
message_like = st.builds(
    lambda kind, extra: dict(extra, type=kind),
    st.sampled_from([*KNOWN_TYPES, "meshes:auth", "meshes:other", "ready", ""]) | json_scalars,
    st.dictionaries(
        st.sampled_from(["height", "path", "title", "x", ""]) | st.text(max_size=70),
        json_values | st.sampled_from([True, -1, 1e999, float("nan"), 480, 480.5, "500"]),
        max_size=msg.MAX_FIELDS + 2,
    ),
)
# What a field of a well-formed message may hold.
field_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
field_names = st.text(min_size=1, max_size=msg.MAX_KEY_CHARS).filter(
    lambda k: k not in ("type", "height")
)
message_fields = st.dictionaries(field_names, field_scalars, max_size=msg.MAX_FIELDS - 2)
heights = st.integers(min_value=0, max_value=msg.MAX_HEIGHT) | st.floats(
    min_value=0, max_value=msg.MAX_HEIGHT
)


def check_message_value(value):
    assert isinstance(value, (msg.Rejection, *MESSAGE_VALUES)), value
    if isinstance(value, msg.Rejection):
        assert value.reason in REASONS
        assert isinstance(value.detail, str)


# -- messages ---------------------------------------------------------------------


@given(st.none() | st.text(max_size=400))
def test_parse_message_never_raises_on_text(text):
    data = msg.classify_json(text)
    check_message_value(msg.parse_message(data))
    kind = msg.message_type(data)
    assert kind is None or isinstance(kind, str)


@settings(max_examples=300)
@given(json_values | message_like)
def test_parse_message_never_raises_on_json(value):
    result = msg.parse_message(msg.classify_json(json.dumps(value)))
    check_message_value(result)
    if not isinstance(result, msg.Rejection):
        assert isinstance(value, dict) and value["type"] in KNOWN_TYPES
    event(type(result).__name__)


@settings(max_examples=300)
@given(
    st.sampled_from([msg.READY, msg.TOKEN_REFRESH, msg.TOKEN_EXPIRED, msg.NAVIGATE]),
    message_fields,
)
def test_well_formed_messages_round_trip(kind, fields):
    expected = {
        msg.READY: msg.Ready(),
        msg.TOKEN_REFRESH: msg.TokenRefreshAsked(),
        msg.TOKEN_EXPIRED: msg.TokenExpired(),
        msg.NAVIGATE: msg.NavigateAsked(fields),
    }[kind]
    assert msg.parse_message(msg.classify(dict(fields, type=kind))) == expected


@given(heights, message_fields)
def test_well_formed_resize_round_trips(height, fields):
    data = dict(fields, type=msg.RESIZE, height=height)
    assert msg.parse_message(msg.classify(data)) == msg.ResizeAsked(height)


# -- config -----------------------------------------------------------------------


def mostly(good, bad):
    """Values from `good` three times in four, else from the strategy `bad`."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), bad)


GOOD_VALUES = {
    "data-session-url": ["/s", "https://host.example/s", "//host.example/s", "s"],
    "data-refresh-url": ["/r/{session_id}", "r", "https://host.example/r/{session_id}"],
    "data-session-body": ["{}", '{"launch_page": "rules"}', ""],
    "data-min-height": ["480", "0", "480px", "100000", "1e3", "12.5", " 600 "],
    "data-max-height": ["900", "480", "900px", "100000", "500.5"],
    "data-embed-origin": [EMBED, "https://embed.meshes.io/", "http://localhost:1"],
    "data-csrf-cookie": ["csrftoken", ""],
    "data-csrf-header": ["X-CSRFToken", ""],
    "data-ready-timeout": ["15", "0.1", "600", "2.5", "1e2"],
}
BAD_VALUES = st.sampled_from(
    ["javascript:x", "https://evil.example/r", "/a b", "[]", "{", "-1", "nan", "inf", "x"]
)
attribute_values = st.dictionaries(
    st.sampled_from(CONTAINER_ATTRIBUTES), st.none() | st.text(max_size=60)
)
plausible_attributes = st.fixed_dictionaries(
    {name: mostly(GOOD_VALUES[name], BAD_VALUES) for name in CONTAINER_ATTRIBUTES[:2]},
    optional={
        name: mostly(GOOD_VALUES[name], st.none() | st.text(max_size=20) | BAD_VALUES)
        for name in CONTAINER_ATTRIBUTES[2:]
    },
)


def check_parse_container(attrs, page):
    try:
        config = parse_container(attrs, page)
    except ConfigError as exc:
        assert exc.attribute in CONTAINER_ATTRIBUTES
        assert str(exc).startswith(exc.attribute + ": ")
        event("refused: " + exc.attribute)
        return
    event("parsed")
    assert 0 <= config.min_height <= 100000
    assert config.max_height is None or config.min_height <= config.max_height
    assert 0 < config.ready_timeout <= 600
    assert isinstance(config.session_body, dict)
    assert (config.csrf_cookie is None) == (config.csrf_header is None)
    if config.embed_origin is not None:
        assert parse_origin_only(config.embed_origin).serialize() == config.embed_origin


@given(attribute_values, st.sampled_from([PAGE, "http://localhost:8000"]))
def test_parse_container_raises_only_config_error(attrs, page):
    check_parse_container(attrs, page)


@settings(max_examples=300)
@given(plausible_attributes)
def test_parse_container_plausible_values(attrs):
    check_parse_container(attrs, PAGE)


# -- origins ----------------------------------------------------------------------

host_labels = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9-]{0,7}\Z")
hosts = st.one_of(
    st.lists(host_labels, min_size=1, max_size=4).map(".".join),
    st.lists(st.integers(0, 255), min_size=4, max_size=4).map(lambda xs: ".".join(map(str, xs))),
    st.lists(st.integers(0, 300), min_size=1, max_size=5).map(lambda xs: ".".join(map(str, xs))),
    st.sampled_from(["localhost", "localhost.", "[::1]", "A.Example", "xn--bcher-kva.example"]),
    st.sampled_from(["[::2]", "[::1", "127.1", "0x7f.0.0.1", "010.0.0.1", "a.0x", "a..b", ""]),
    st.text(max_size=12),
)
url_like = st.builds(
    lambda scheme, userinfo, host, port, rest: scheme + "://" + userinfo + host + port + rest,
    mostly(["http", "https", "HTTPS", "Http"], st.sampled_from(["ftp", "javascript", ""])),
    mostly([""], st.sampled_from(["u@", "u:p@", "@"])),
    hosts,
    mostly(["", ":80", ":443", ":8080", ":"], st.integers(-1, 70000).map(lambda n: ":" + str(n)))
    | st.sampled_from([":0", ":65536", ":08", ":x"]),
    mostly(["", "/", "/p?q#f", "?x", "#y"], st.sampled_from(["\\x", " /", "/\t", "/\x00"])),
)


def check_origin_idempotent(url):
    try:
        origin = parse_origin(url)
    except OriginError as exc:
        assert exc.reason in ("url", "scheme")
        event("refused")
        return
    event("parsed")
    text = origin.serialize()
    again = parse_origin(text)
    assert again == origin
    assert again.serialize() == text
    assert parse_origin_only(text) == origin
    assert parse_origin(text + "/any/path?q#f") == origin
    assert origin.scheme in ("http", "https")
    assert origin.host == origin.host.lower()
    assert origin.port is None or (
        0 < origin.port <= 65535 and origin.port != {"http": 80, "https": 443}[origin.scheme]
    )
    try:
        check_embed_origin(origin)
    except OriginError as exc:
        assert exc.reason == "insecure"
        assert origin.scheme == "http"


@settings(max_examples=300)
@given(url_like)
def test_parse_origin_idempotent_on_url_like_text(url):
    check_origin_idempotent(url)


@given(st.text(max_size=60) | json_scalars)
def test_parse_origin_idempotent_on_any_value(value):
    check_origin_idempotent(value)


@given(st.text())
def test_quote_component_matches_urllib(text):
    assert quote_component(text) == urllib.parse.quote(text, safe="")


# -- redact -----------------------------------------------------------------------

# Realistic credentials (JWTs, opaque base64url tokens): longer than the placeholder and
# without brackets. A secret that is a substring of "[redacted]" itself ("acted"), or
# that begins/ends with part of it, cannot be removed by substitution at all.
secrets = st.text(alphabet=string.ascii_letters + string.digits + "-._~+/=", min_size=11)


@given(secrets, st.lists(st.text(max_size=20), max_size=6), st.text(max_size=20))
def test_redact_removes_every_occurrence(secret, pieces, other):
    text = secret.join(pieces) + secret[: len(secret) // 2] + other
    out = redact(text, [secret])
    assert secret not in out
    assert out.count(REDACTED) >= text.count(secret)
    if secret not in text:
        assert out == text


@given(secrets, secrets, st.lists(st.text(max_size=10), max_size=5))
def test_redact_removes_several_secrets(first, second, pieces):
    text = first.join(pieces) + second.join(pieces) + first + second
    out = redact(text, [first, second])
    assert first not in out and second not in out


# -- responses and resize ----------------------------------------------------------


@given(st.none() | st.text(max_size=200) | json_values.map(json.dumps))
def test_response_parsers_raise_only_response_error(text):
    for parser in (parse_session, parse_refresh):
        try:
            parser(text)
        except ResponseError:
            pass


@given(
    st.dictionaries(
        st.sampled_from(["session_id", "access_token", "expires_at", "launch_url"]),
        st.text(max_size=20) | json_scalars,
    )
)
def test_parse_session_raises_only_response_error(data):
    try:
        session = parse_session(json.dumps(data))
    except ResponseError:
        return
    assert (
        repr(session)
        == "Session(session_id=" + repr(session.session_id) + ", access_token=[redacted])"
    )


@given(
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0, max_value=1e5),
    st.none() | st.floats(min_value=0, max_value=1e5),
)
def test_clamp_height_bounds(height, low, high):
    if high is not None and math.ceil(low) > math.floor(high):
        high = None  # no whole pixel fits; not a config parse_container accepts usefully
    value = clamp_height(height, low, high)
    assert isinstance(value, int)
    assert value >= low
    if high is not None:
        assert value <= high
    else:
        assert value >= height


# -- EmbedSession under random inputs ------------------------------------------------

ATTRS = {"data-session-url": SESSION_URL, "data-refresh-url": REFRESH_URL}
SESSION_IDS = ["sess_1", "sess_a b/c+d?\u00e9", "x%2Fy", "\u2603"]
OTHER_ORIGINS = ["https://evil.example", "http://embed.meshes.io", EMBED + ":8443", "null"]


def test_a_session_id_that_cannot_be_utf8_encoded_is_refused():
    # JSON may carry a lone surrogate ("\ud800"): such an id can never be put in the
    # refresh URL (quote_component raised UnicodeEncodeError at the first refresh).
    body = '{"session_id": "sess_\\ud800", "access_token": "tok_0123456789abcdef",'
    body += ' "launch_url": "https://embed.meshes.io/w"}'
    with pytest.raises(ResponseError):
        parse_session(body)
    session = EmbedSession(parse_container(dict(ATTRS), PAGE))
    session.handle(Start(), 0.0)
    out = session.handle(HttpAnswered(1, 200, body), 1.0)
    assert [a.detail["code"] for a in out if isinstance(a, Emit)] == ["mint-invalid"]
    refresh = MessageReceived(EMBED, True, msg.classify({"type": msg.TOKEN_REFRESH}))
    session.handle(refresh, 3.0)


def test_every_cell_of_the_table_is_a_legal_move():
    # Cells no random run reaches are checked here too.
    for state, row in TABLE.items():
        for kind, target in row.items():
            assert target in (DROPPED, state) or target in LEGAL_MOVES[state], (state, kind)


def launch_url(kind, n):
    return {
        "good": EMBED + "/workspace/dashboard?launch=L" + str(n),
        "other-origin": "https://other.meshes.io/w?launch=L" + str(n),
        "loopback": "http://localhost:8000/w?launch=L" + str(n),
        "plain-http": "http://embed.meshes.io/w?launch=L" + str(n),
    }[kind]


class EmbedMachine(RuleBasedStateMachine):
    """Drives one EmbedSession and checks every action against a small model."""

    @initialize(
        debug=st.booleans(),
        embed_attr=st.sampled_from([None, EMBED]),
        timeout=st.sampled_from(["3", "15"]),
        max_height=st.sampled_from([None, "900", "480"]),
    )
    def start(self, debug, embed_attr, timeout, max_height):
        attrs = dict(ATTRS)
        attrs["data-ready-timeout"] = timeout
        attrs["data-embed-origin"] = embed_attr
        attrs["data-max-height"] = max_height
        self.config = parse_container(attrs, PAGE)
        self.session = EmbedSession(self.config, debug, "micropython", "/timings")
        self.now = 0.0
        self.counter = 0
        self.state = "booting"
        self.tokens = []  # every token any answer carried
        self.expired_tokens = set()  # tokens the iframe said were expired
        self.current_token = None
        self.session_id = None
        self.iframe = False
        self.iframe_origin = None
        self.documents = []  # "L" (load) and "R" (accepted ready) since the mount
        self.outstanding = {}  # request id -> "mint" | "refresh"
        self.last_id = 0
        self.frame_pending = False
        self.closed = False
        self.answering = None  # (token, session_id) of the answer being fed
        self.mount_authed = False  # has the current mount posted its first auth
        self.timings_due = None  # the timings the current input reported, for the POST
        self.reports = set()  # request ids of the timings POSTs out
        self._feed(Start())
        assert self.state == "minting"

    # -- feeding and checking ----------------------------------------------------

    def _feed(self, item):
        out = self.session.handle(item, self.now)
        self._check(out)
        return out

    def _timer(self):
        out = self.session.handle_timer(self.now)
        self._check(out)
        deadline = self.session.next_deadline()
        assert deadline is None or deadline > self.now
        return out

    def _ready_credited(self):
        """Has a ready come that may belong to the iframe's current document? It is
        after the second-to-last load (a ready usually precedes its own load)."""
        loads = [i for i, e in enumerate(self.documents) if e == "L"]
        start = loads[-2] if len(loads) >= 2 else 0
        return "R" in self.documents[start:]

    def _check(self, out):
        if self.closed:
            assert out == []
            return
        was_error = self.state == "error"
        # What someone waits on (the token posted, a request sent) comes first in a step;
        # the model reads the step with those last, as the session planned them: after
        # the iframe removed, the request aborted or the token taken up that they follow.
        waited = [a for a in out if isinstance(a, (PostAuth, StartMint, StartRefresh))]
        assert out[: len(waited)] == waited, out
        for action in out[len(waited) :] + waited:
            self._check_secrets(action)
            if was_error:  # terminal: only rejections, logs and a teardown's cleanup
                assert isinstance(action, (Log, CancelFrame)) or (
                    isinstance(action, Emit) and action.name == "rejected"
                ), action
            if isinstance(action, SetState):
                assert action.state in LEGAL_MOVES[self.state], (self.state, action)
                event("move " + self.state + " -> " + action.state)
                self.state = action.state
            elif isinstance(action, (StartMint, StartRefresh)):
                assert action.request_id > self.last_id
                self.last_id = action.request_id
                assert not self.outstanding, (self.outstanding, action)  # one at a time
                if isinstance(action, StartMint):
                    assert action.url == SESSION_URL and action.body == {}
                    assert not self.iframe
                    self.outstanding[action.request_id] = "mint"
                else:
                    assert self.iframe and self.session_id is not None
                    quoted = urllib.parse.quote(self.session_id, safe="")
                    assert action.url == REFRESH_URL.replace("{session_id}", quoted)
                    self.outstanding[action.request_id] = "refresh"
            elif isinstance(action, AbortRequest):
                if action.request_id in self.reports:
                    self.reports.discard(action.request_id)
                else:
                    assert self.outstanding.pop(action.request_id, None) is not None, action
            elif isinstance(action, MountIframe):
                assert not self.iframe
                self.iframe = True
                self.iframe_origin = parse_origin(action.src).serialize()
                if self.config.embed_origin is not None:
                    assert self.iframe_origin == self.config.embed_origin
                check_embed_origin(parse_origin(action.src))
                self.documents = []
                self._check_height(action.height)
                self.current_token, self.session_id = self.answering
                self.mount_authed = False
            elif isinstance(action, RemoveIframe):
                assert self.iframe
                self.iframe = False
                self.iframe_origin = None
                self.current_token = None
            elif isinstance(action, PostAuth):
                assert self.iframe
                assert action.target_origin == self.iframe_origin == self.session.embed_origin
                assert action.message == {"type": "meshes:auth", "token": self.current_token}
                assert self.current_token not in self.expired_tokens
                assert self._ready_credited(), self.documents
                first_auth = not self.mount_authed
                self.mount_authed = True
                # The timings of a mount go out with its first auth, and only then.
                reported = [a for a in out if isinstance(a, Emit) and a.name == "timings"]
                assert len(reported) == (1 if first_auth else 0), out
            elif isinstance(action, RequestFrame):
                assert not self.frame_pending
                self.frame_pending = True
            elif isinstance(action, CancelFrame):
                assert self.frame_pending
                self.frame_pending = False
            elif isinstance(action, SetHeight):
                assert self.iframe
                self._check_height(action.height)
            elif isinstance(action, Emit):
                assert action.name in EVENT_NAMES, action
                assert isinstance(action.detail, dict)
                if action.name == "error":
                    assert set(action.detail) == {"code", "message"}
                    assert action.detail["code"] in ERROR_CODES
                    event("error " + action.detail["code"])
                if action.name == "token-refreshed":
                    self.current_token = self.answering[0]
                if action.name == "rejected":
                    assert set(action.detail) == {"reason", "origin"}
                    assert action.detail["reason"] in REASONS
                if action.name == "timings":
                    self._check_timings(action.detail)
                    self.timings_due = action.detail
            elif isinstance(action, PostTimings):
                assert action.url == "/timings" and action.body == self.timings_due
                assert action.request_id > self.last_id
                self.last_id = action.request_id
                self.timings_due = None
                self.reports.add(action.request_id)
            else:
                assert isinstance(action, Log), action
                assert action.level in ("debug", "info", "warn", "error")
        assert self.timings_due is None, out  # every report POSTed to data-timings-url
        assert self.state == self.session.state

    def _check_timings(self, detail):
        assert sorted(detail) == sorted(["runtime", *STEPS]) and detail["runtime"] == "micropython"
        stamps = [detail[step] for step in STEPS if detail[step] is not None]
        assert stamps == sorted(stamps), detail
        assert detail["auth"] == round(self.now * 1000.0, 3), detail
        for step in ("mint_sent", "mint_answered", "iframe_created", "ready"):
            assert detail[step] is not None, detail

    def _check_secrets(self, action):
        texts = [repr(action)]
        if isinstance(action, Log):
            texts.append(action.text)
        if isinstance(action, Emit):
            texts.append(json.dumps(action.detail))
            texts.extend(str(k) + "=" + str(v) for k, v in action.detail.items())
        for token in self.tokens:
            for text in texts:
                assert token not in text, (action, token)

    def _check_height(self, height):
        assert isinstance(height, int)
        assert height >= self.config.min_height
        if self.config.max_height is not None:
            assert height <= self.config.max_height

    def _new_token(self):
        self.counter += 1
        token = "tok_" + str(self.counter) + "_SECRETSECRETSECRET"
        self.tokens.append(token)
        return token

    def _pick_request(self, which):
        """The request in flight, or an id that is not (a stale or a future one)."""
        if which == "future":
            return self.last_id + 5
        if which == "stale" or not self.outstanding:
            live = set(self.outstanding) | self.reports
            stale = self.last_id - 1
            while stale > 0 and stale in live:
                stale -= 1
            return max(0, stale)
        return max(self.outstanding)

    # -- rules -------------------------------------------------------------------
    # Inputs that move the session forward get rules of their own (rules are drawn
    # uniformly), so that runs reach authenticated, refreshing and expired often
    # instead of ending early in a terminal error.

    def _send(self, kind, origin, from_iframe, height=480, token_inside=False):
        if origin == "embed":
            origin = self.session.embed_origin or EMBED
        token = self.current_token or "no-token"
        data = {
            "ready": {"type": msg.READY},
            "refresh": {"type": msg.TOKEN_REFRESH},
            "expired": {"type": msg.TOKEN_EXPIRED},
            "navigate": {"type": msg.NAVIGATE, "path": "/workspace/rules"},
            "resize": {"type": msg.RESIZE, "height": height},
            "garbage": {"type": msg.READY, "nested": {"token": token}},
            "auth": {"type": "meshes:auth", "token": token},
        }[kind]
        if token_inside and kind == "navigate":
            data["url"] = "https://x.example/?t=" + token
            data[token] = 1
        elif token_inside:
            data["token"] = token
        self._receive(origin, from_iframe, json.dumps(data))

    def _receive(self, origin, from_iframe, text):
        """Feed one message; the session must accept exactly the ones it should."""
        data = msg.classify_json(text)
        expected = msg.parse_message(data)
        accepted = (
            origin == self.session.embed_origin
            and from_iframe
            and self.iframe
            and not isinstance(expected, msg.Rejection)
        )
        if accepted and isinstance(expected, msg.TokenExpired) and self.current_token:
            self.expired_tokens.add(self.current_token)
        if accepted and isinstance(expected, msg.Ready):
            self.documents.append("R")
        out = self._feed(MessageReceived(origin, from_iframe, data))
        rejected = [a for a in out if isinstance(a, Emit) and a.name == "rejected"]
        if not self.closed:
            assert bool(rejected) != accepted, (origin, from_iframe, text, out)
            if rejected:
                assert len(out) in (1, 2) and all(isinstance(a, Log) for a in out[1:]), out

    @rule(
        kind=st.sampled_from(["ready", "ready", "refresh", "refresh", "expired", "navigate"]),
        token_inside=st.booleans(),
    )
    def good_message(self, kind, token_inside):
        self._send(kind, "embed", True, token_inside=token_inside)

    @rule(height=heights)
    def good_resize(self, height):
        self._send("resize", "embed", True, height=height)

    @rule(
        kind=st.sampled_from(
            ["ready", "refresh", "expired", "navigate", "resize", "garbage", "auth"]
        ),
        origin=st.sampled_from(["embed", *OTHER_ORIGINS]),
        from_iframe=st.booleans(),
        height=heights | st.sampled_from([-1, "x", True]),
        token_inside=st.booleans(),
    )
    def message(self, kind, origin, from_iframe, height, token_inside):
        self._send(kind, origin, from_iframe, height, token_inside)

    @rule(
        origin=st.sampled_from([EMBED, *OTHER_ORIGINS]) | st.text(max_size=20),
        data=st.none()
        | st.text(max_size=50)
        | json_values.map(json.dumps)
        | message_like.map(json.dumps),
    )
    def random_message(self, origin, data):
        self._receive(origin, True, data)

    @rule()
    def load(self):
        if self.iframe:
            self.documents.append("L")
        assert self._feed(IframeLoaded()) == []

    def _answer(self, request_id, status, text, token, session_id):
        kind = self.outstanding.pop(request_id, None)
        self.answering = (token, session_id)
        out = self._feed(HttpAnswered(request_id, status, text))
        self.answering = None
        if kind is None:
            assert out == [] or self.closed  # stale or unknown ids change nothing
        if any(isinstance(a, MountIframe) for a in out):
            assert kind == "mint"
        if any(isinstance(a, Emit) and a.name == "token-refreshed" for a in out):
            assert kind == "refresh"

    def _body(self, kind, token, session_id, launch):
        if kind == "refresh":
            return json.dumps({"access_token": token, "expires_at": "2030-01-01T00:00:00Z"})
        data = {"session_id": session_id, "access_token": token, "expires_at": None}
        data["launch_url"] = launch_url(launch, self.counter)
        return json.dumps(data)

    @rule(
        session_id=st.sampled_from(SESSION_IDS),
        launch=st.sampled_from(["good", "good", "other-origin", "loopback"]),
    )
    def answer_ok(self, session_id, launch):
        """The request in flight succeeds, with an answer the session can use."""
        if self.config.embed_origin is not None:
            launch = "good"
        request_id = self._pick_request("current")
        token = self._new_token()
        text = self._body(self.outstanding.get(request_id), token, session_id, launch)
        self._answer(request_id, 200, text, token, session_id)

    @rule(status=st.sampled_from([408, 429, 500, 502, 503]))
    def answer_retriable(self, status):
        request_id = self._pick_request("current")
        self._answer(request_id, status, "busy", None, None)

    @rule(
        which=st.sampled_from(["current", "current", "stale", "future"]),
        status=st.sampled_from([200, 201, 302, 400, 401, 403, 404, 500]),
        body=st.sampled_from(["good", "other-origin", "plain-http", "bad-json", "missing"]),
        session_id=st.sampled_from(SESSION_IDS),
        kind=st.sampled_from(["mint", "refresh"]),
        roll=st.integers(0, 3),
    )
    def answer_other(self, which, status, body, session_id, kind, roll):
        """Anything else: session gone, client errors, unusable bodies, stale ids."""
        request_id = self._pick_request(which)
        if self.outstanding.get(request_id) == "mint" and roll:
            request_id = self._pick_request("stale")  # a failed mint ends the run: rarely
        token = self._new_token()
        if body == "bad-json":
            text = "{" + token
        elif body == "missing":
            text = json.dumps({"session_id": session_id})
        else:
            kind = self.outstanding.get(request_id, kind)
            text = self._body(kind, token, session_id, body)
        self._answer(request_id, status, text, token, session_id)

    @rule(which=st.sampled_from(["current", "current", "stale"]), leak=st.booleans())
    def fail(self, which, leak):
        request_id = self._pick_request(which)
        kind = self.outstanding.pop(request_id, None)
        reason = "network error " + (self.current_token or "") if leak else "network error"
        out = self._feed(HttpFailed(request_id, reason))
        if kind is None:
            assert out == [] or self.closed

    @rule(dt=st.sampled_from([0.0, 0.01, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0]))
    def advance(self, dt):
        deadline = self.session.next_deadline()
        self.now += dt
        out = self._timer()
        if deadline is None or self.now < deadline:
            assert out == []  # nothing is due before the deadline

    @rule()
    def jump_to_deadline(self):
        deadline = self.session.next_deadline()
        if deadline is not None:
            self.now = max(self.now, deadline)
        self._timer()

    @precondition(lambda self: self.frame_pending)
    @rule()
    def frame(self):
        self.frame_pending = False
        self._feed(FrameTick())

    @precondition(lambda self: self.reports)
    @rule(status=st.sampled_from([200, 204, 302, 403, 500, 0]))
    def answer_report(self, status):
        # The host's collector: its answer changes nothing but, at most, one console line.
        request_id = min(self.reports)
        self.reports.discard(request_id)
        if status:
            out = self._feed(HttpAnswered(request_id, status, "<html>" + status * "x"))
        else:
            out = self._feed(HttpFailed(request_id, "network error"))
        assert all(isinstance(a, Log) and a.level == "warn" for a in out), out
        assert len(out) == (0 if 200 <= status < 300 else 1), out

    @rule(roll=st.integers(0, 19))
    def maybe_teardown(self, roll):
        if roll:
            return
        out = self._feed(Teardown())
        assert not any(isinstance(a, (StartMint, StartRefresh, PostAuth, MountIframe)) for a in out)
        assert not self.outstanding and not self.frame_pending and not self.iframe
        assert not self.reports
        assert self.session.next_deadline() is None
        self.closed = True

    @invariant()
    def state_agrees(self):
        assert self.session.state == self.state
        deadline = self.session.next_deadline()
        assert deadline is None or isinstance(deadline, (int, float))


# 500 runs find the shallow bugs in ~30 s; deeper sequences (five specific inputs in a
# row) need thousands: MESHES_CORE_EXAMPLES=5000 for a long hunt.
EmbedMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("MESHES_CORE_EXAMPLES", "500")),
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEmbedSessionRandomInputs = EmbedMachine.TestCase
