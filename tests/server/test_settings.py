"""Settings: every problem reported at once, at start-up, naming the variable, never the
secret; cleartext to another host refused."""

from __future__ import annotations

import pytest

from meshes_bridge.server import ConfigurationError, MeshesSettings

SECRET = "msk_live_" + "S" * 40
GOOD = {
    "MESHES_ORG_ID": "0b7f4a2e-9c31-4d8e-b5a6-3e1f2c9d7a40",
    "MESHES_ACCESS_KEY": "mak_live_1",
    "MESHES_SECRET_KEY": SECRET,
    "MESHES_WORKSPACE_ID": "5f0c3c9e-6d1b-4a57-9a53-2f1d8e0b7a11",
    "MESHES_ALLOWED_ORIGINS": "https://app.example.com, https://admin.example.com",
}


def problems(env: dict[str, str], **overrides: object) -> list[str]:
    with pytest.raises(ConfigurationError) as info:
        MeshesSettings.from_env(env, **overrides)
    assert SECRET not in str(info.value)
    return info.value.problems


def test_defaults_and_canonical_origins() -> None:
    settings = MeshesSettings.from_env(GOOD)
    assert settings.api_url == "https://api.meshes.io"
    assert settings.embed_origin == "https://embed.meshes.io"
    assert settings.allowed_origins == ("https://app.example.com", "https://admin.example.com")
    assert (settings.mint_limit, settings.refresh_limit) == (10, 30)
    assert SECRET not in repr(settings) and SECRET not in str(settings.describe())


def test_every_missing_variable_is_named_in_one_error() -> None:
    found = problems({"MESHES_BRIDGE_MINT_LIMIT": "ten"})
    assert "MESHES_BRIDGE_MINT_LIMIT must be a whole number" in found
    for name in ("ORG_ID", "ACCESS_KEY", "SECRET_KEY", "WORKSPACE_ID", "ALLOWED_ORIGINS"):
        assert f"MESHES_{name} is not set" in found


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MESHES_API_URL", "http://api.meshes.io"),  # the JWT would travel in cleartext
        ("MESHES_API_URL", "ftp://api.meshes.io"),
        ("MESHES_EMBED_ORIGIN", "http://embed.example.com"),
        ("MESHES_EMBED_ORIGIN", "https://embed.meshes.io/path"),
        ("MESHES_ALLOWED_ORIGINS", "app.example.com"),
        ("MESHES_ORG_ID", "not-a-uuid"),
        ("MESHES_BRIDGE_REFRESH_LIMIT", "0"),
    ],
)
def test_bad_values_are_refused(variable: str, value: str) -> None:
    found = problems({**GOOD, variable: value})
    assert any(variable in line for line in found), found


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("https://app.example.com/", "ends with a slash"),
        ("https://app.example.com/app", "has a path"),
        ("https://app.example.com?next=/", "has a path, query or fragment"),
    ],
)
def test_an_allowed_origin_with_a_slash_or_a_path_is_refused_naming_the_fix(
    value: str, what: str
) -> None:
    # A browser's Origin header has neither: the project's value must be one it can match.
    found = problems({**GOOD, "MESHES_ALLOWED_ORIGINS": f"https://admin.example.com, {value}"})
    assert len(found) == 1, found
    assert found[0].startswith(f"MESHES_ALLOWED_ORIGINS: {value!r} {what}"), found
    assert found[0].endswith(": write 'https://app.example.com'"), found


def test_problems_can_say_where_each_variable_is_set() -> None:
    with pytest.raises(ConfigurationError) as caught:
        MeshesSettings.from_env({**GOOD, "MESHES_ORG_ID": ""})
    located = caught.value.saying_where(lambda name: f"config[{name!r}]")
    assert located.problems == ["MESHES_ORG_ID is not set (set config['MESHES_ORG_ID'])"]


def test_loopback_http_is_fine_for_development() -> None:
    settings = MeshesSettings.from_env(
        {
            **GOOD,
            "MESHES_API_URL": "http://127.0.0.1:9000",
            "MESHES_EMBED_ORIGIN": "http://localhost:9001",
        }
    )
    assert settings.api_url == "http://127.0.0.1:9000"


def test_code_overrides_the_environment_and_redis_passwords_stay_hidden() -> None:
    url = "redis://:hunter2-redis@redis.internal:6379/0"
    settings = MeshesSettings.from_env(GOOD, mint_limit=3, redis_url=url)
    assert settings.mint_limit == 3 and settings.redis_url == url
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.describe())
