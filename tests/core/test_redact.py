"""Redaction of secrets from text and of credential fields from data."""

from meshes_bridge.core.redact import REDACTED, redact, redact_fields
from tests.core.helpers import TOKEN


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
