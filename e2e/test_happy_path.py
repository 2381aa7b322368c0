"""The whole happy path, as a host sees it: mint, mount, ready, auth, resize, navigate."""

from __future__ import annotations

from e2e.harness import HostPage, origin_of


def test_mounts_and_authenticates(host: HostPage) -> None:
    host.open()
    host.wait_authenticated()
    # Exactly one iframe, on the launch_url the backend minted.
    assert host.iframe().count() == 1
    src = host.iframe().get_attribute("src")
    assert origin_of(src) == host.servers.embed_url
    assert "/workspace/dashboard?launch=" in src
    # The embed received a valid token (checked by the stub against the fake store).
    status = host.stub("status()")
    assert status["authenticated"] is True
    assert status["last_token_valid"] is True
    assert [e["name"] for e in host.events() if e["name"] in ("ready", "authenticated")] == [
        "ready",
        "authenticated",
    ]
    assert len(host.servers.backend.calls("mint")) == 1
