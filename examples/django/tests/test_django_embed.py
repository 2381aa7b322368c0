"""The host team's end-to-end test: our page, our endpoints and the bridge, in Chromium,
against the fake Meshes (`pip install "meshes-bridge[testing]"`, then `pytest`)."""

from playwright.sync_api import expect

from meshes_bridge.testing import (
    ask_refresh,
    expect_embed_authenticated,
    expire_token,
    fail_next_meshes_call,
    log_in,
    post_foreign_message,
)


def test_alice_gets_a_working_embed(page, meshes_login_url, meshes):
    log_in(page, meshes_login_url, "alice", "demo-password")
    embed = expect_embed_authenticated(page)
    assert ask_refresh(embed, meshes) == 2  # through our refresh endpoint
    assert "expired" in expire_token(embed, meshes)  # the fallback shows, then recovers
    assert post_foreign_message(embed, meshes)["reason"] == "origin"
    with page.expect_navigation():  # our logout form, wherever it leads
        page.locator("form[action*='logout'] [type=submit]").click()
    assert meshes.api.revoked_ids() == [embed.session_id]  # logout revoked it at Meshes


def test_a_meshes_outage_ends_in_an_error_state(page, meshes_login_url, meshes):
    fail_next_meshes_call(meshes, "create", 503, count=100)
    log_in(page, meshes_login_url, "alice", "demo-password")
    embed = page.locator("[data-meshes-embed]")
    expect(embed).to_have_attribute("data-state", "error", timeout=60_000)
