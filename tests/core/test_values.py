"""Inputs and actions as values: equality, hashing, a repr that hides secrets."""

from meshes_bridge.core.actions import Emit, RemoveIframe, SetState, StartRefresh
from meshes_bridge.core.inputs import FrameTick, HttpAnswered
from tests.core.helpers import TOKEN, auth, session_json


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
