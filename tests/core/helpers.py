"""What the core's portable tests share: sample values, input builders, and `Run`, a
session driven h11-style (plain input values, an explicit `now`) that keeps every action
it returned.

Like the tests, plain Python that MicroPython runs too: no pytest, no typing, no
dataclasses; an expected exception is checked with `raises`.
"""

import json

from meshes_bridge.core import messages as msg
from meshes_bridge.core.actions import (
    Emit,
    Log,
    MountIframe,
    PostAuth,
    RemoveIframe,
    SetState,
    StartMint,
    StartRefresh,
)
from meshes_bridge.core.config import parse_container
from meshes_bridge.core.inputs import HttpAnswered, IframeLoaded, MessageReceived, Start
from meshes_bridge.core.session import EmbedSession
from meshes_bridge.core.timings import STEPS

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


def timings(runtime=None, **stamps):
    """A `timings` event's detail: `stamps` (step -> ms), every other step None."""
    detail = {"runtime": runtime}
    for step in STEPS:
        detail[step] = stamps.get(step)
    return detail


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
    assert out == [StartRefresh(2, REFRESH_FILLED), SetState("refreshing")], out
    return run


def assert_remounted(out, mint_id):
    """A remount: one fresh mint request, first (someone waits on it); the iframe gone
    and the state minting last."""
    tail = no_logs(out)
    assert tail[0] == StartMint(mint_id, SESSION_URL, {}), out
    assert only(out, StartMint) == [tail[0]], out
    assert tail[-2:] == [RemoveIframe(), SetState("minting")], out
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
