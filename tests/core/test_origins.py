"""Origins: parsing, the embed origin's rules, same-origin references, quoting."""

from meshes_bridge.core.origins import (
    OriginError,
    check_embed_origin,
    check_same_origin_ref,
    parse_origin,
    parse_origin_only,
    quote_component,
    split_url,
)
from tests.core.helpers import EMBED, PAGE, SID, SID_QUOTED, raises


def test_parse_origin_normalises_case_and_default_ports():
    assert parse_origin("HTTPS://Embed.Meshes.IO/x?y#z").serialize() == EMBED
    assert parse_origin("https://embed.meshes.io:443/").serialize() == EMBED
    assert parse_origin("http://host.example:80").serialize() == "http://host.example"
    assert parse_origin("https://host.example:80").serialize() == "https://host.example:80"
    assert parse_origin("http://host.example:8080/a").port == 8080
    assert parse_origin("https://host.example:").port is None
    assert parse_origin("https://a.example") == parse_origin("https://A.EXAMPLE:443/p")
    assert parse_origin("https://a.example") != parse_origin("http://a.example")
    assert parse_origin("http://[::1]:8000/x").serialize() == "http://[::1]:8000"
    assert parse_origin("http://127.0.0.1:9/").serialize() == "http://127.0.0.1:9"


def test_split_url_returns_the_rest():
    origin, rest = split_url("https://a.example:8443/p/q?x=1#f")
    assert origin.serialize() == "https://a.example:8443"
    assert rest == "/p/q?x=1#f"
    assert split_url("https://a.example?x")[1] == "?x"
    assert split_url("https://a.example")[1] == ""


def test_parse_origin_refuses_userinfo():
    for url in (
        "https://user@embed.meshes.io/",
        "https://user:pw@embed.meshes.io/",
        "https://embed.meshes.io@evil.example/",
        "https://@embed.meshes.io",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_backslashes_and_whitespace():
    for url in (
        "https:\\\\evil.example",
        "https://evil.example\\@embed.meshes.io/",
        "https://embed.meshes.io\\x",
        " https://embed.meshes.io",
        "https://embed.meshes.io ",
        "https://embed.meshes.io/a b",
        "https://embed.\tmeshes.io",
        "https://embed.meshes.io\n",
        "https://embed.meshes.io/\x00",
        "https://embed.meshes.io/\x01",
        "https://embed.meshes.io/\x1f",
        "https://embed.meshes.io/\x7f",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_non_canonical_ipv4():
    for host in (
        "127.1",
        "0x7f.0.0.1",
        "010.0.0.1",
        "127.0.0.01",
        "2130706433",
        "0x7f000001",
        "256.0.0.1",
        "1.2.3.4.5",
        "1.2.3",
        "example.123",
        "a.0x",
    ):
        assert raises(OriginError, parse_origin, "http://" + host + "/").reason == "url", host
    assert parse_origin("http://127.0.0.1").host == "127.0.0.1"
    assert parse_origin("http://10.20.30.40:81").host == "10.20.30.40"


def test_parse_origin_refuses_ipv6_other_than_loopback():
    for host in ("[::2]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::1", "[::1]x", "[]"):
        assert raises(OriginError, parse_origin, "http://" + host + "/").reason == "url", host
    assert parse_origin("http://[::1]/").host == "[::1]"


def test_parse_origin_refuses_bad_hosts_and_ports():
    for url in (
        "https:///path",
        "https://:443",
        "https://.example",
        "https://a..example",
        "https://a_b.example",
        "https://ex%61mple.com",
        "https://\u00e9xample.com",
        "https://a.example:0",
        "https://a.example:65536",
        "https://a.example:123456",
        "https://a.example:-1",
        "https://a.example:8o",
        "https://a.example:80:80",
    ):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_refuses_other_schemes_and_non_urls():
    for url in ("javascript://x.example/%0aalert(1)", "ftp://a.example", "file:///etc/passwd"):
        assert raises(OriginError, parse_origin, url).reason == "scheme", url
    for url in ("", "a.example", "/relative", "//a.example", None, 42, "x" * 5000):
        assert raises(OriginError, parse_origin, url).reason == "url", url


def test_parse_origin_only_refuses_paths_and_queries():
    assert parse_origin_only("https://embed.meshes.io/").serialize() == EMBED
    assert parse_origin_only("HTTPS://EMBED.MESHES.IO:443").serialize() == EMBED
    for text in ("https://embed.meshes.io/x", "https://embed.meshes.io?x", "https://e.io#f"):
        raises(OriginError, parse_origin_only, text)


def test_check_embed_origin_https_or_loopback_http():
    for url in (
        "https://embed.meshes.io",
        "https://10.0.0.1:8443",
        "http://localhost",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
        "http://127.255.1.2",
        "http://[::1]:9000",
    ):
        check_embed_origin(parse_origin(url))
    for url in (
        "http://embed.meshes.io",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://128.0.0.1",
        "http://10.0.0.1",
        "http://localhost.",
    ):
        assert raises(OriginError, check_embed_origin, parse_origin(url)).reason == "insecure", url


def test_quote_component():
    assert quote_component("sess_AZaz09-._~") == "sess_AZaz09-._~"
    assert quote_component("a b/c?d&e=f#g") == "a%20b%2Fc%3Fd%26e%3Df%23g"
    assert quote_component("%") == "%25"
    assert quote_component("+") == "%2B"
    assert quote_component("\u00e9") == "%C3%A9"
    assert quote_component("{session_id}") == "%7Bsession_id%7D"
    assert quote_component("") == ""
    assert quote_component(SID) == SID_QUOTED
    # Unreserved text is returned as it is; one character more and all is encoded.
    assert quote_component("abc\n") == "abc%0A"
    assert quote_component("a[]^\\`") == "a%5B%5D%5E%5C%60"


def test_check_same_origin_ref():
    page = parse_origin(PAGE)
    for ref in ("/x", "x/y", "./a:b", "/x?next=https://evil.example", "HTTPS://HOST.EXAMPLE:443/"):
        check_same_origin_ref(ref, page)
    check_same_origin_ref("//host.example/x", page)
    assert raises(OriginError, check_same_origin_ref, "//evil.example/x", page).reason == (
        "cross-origin"
    )
    assert raises(OriginError, check_same_origin_ref, "http://host.example/", page).reason == (
        "cross-origin"
    )
    assert raises(OriginError, check_same_origin_ref, "javascript:alert(1)", page).reason == (
        "scheme"
    )
    for ref in ("", None, "/a\\b", "/a b", "\t/x"):
        raises(OriginError, check_same_origin_ref, ref, page)
