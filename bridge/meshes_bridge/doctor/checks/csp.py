"""The page's Content-Security-Policy (header and meta): what the bridge needs that it
lacks, what it allows that it should not, and every violation the page reported."""

from __future__ import annotations

from urllib.parse import urlsplit

from meshes_bridge.doctor.checks.context import Context, origin_of
from meshes_bridge.doctor.report import OK, PROBLEM, WARNING, Section

DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
HELPER = (
    "bridge.content_security_policy() (Flask, FastAPI) or content_security_policy() / "
    "{% meshes_csp %} (Django) write the whole policy"
)


def parse_policy(text: str) -> dict[str, list[str]]:
    """One policy's directives, names lower-case; the first of a repeated name wins."""
    directives: dict[str, list[str]] = {}
    for part in text.split(";"):
        words = part.split()
        if words and words[0].lower() not in directives:
            directives[words[0].lower()] = words[1:]
    return directives


def _split(value: str) -> list[str]:
    return [p.strip() for line in value.split("\n") for p in line.split(",") if p.strip()]


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def allows(sources: list[str], origin: str, page_origin: str) -> bool:
    """Whether a directive's source list lets `origin` (scheme://host[:port]) through."""
    target = urlsplit(origin)
    scheme, host = target.scheme, target.hostname or ""
    port = str(target.port) if target.port else DEFAULT_PORTS.get(scheme, "")
    for source in sources:
        text = source.strip()
        lower = text.lower()
        if lower == "*":
            return scheme in ("http", "https", "ws", "wss")
        if lower == "'self'":
            if origin == page_origin:
                return True
            continue
        if lower.startswith("'"):
            continue
        if lower.endswith(":") and "/" not in lower:
            if lower[:-1] == scheme:
                return True
            continue
        if "://" in lower:
            want_scheme, rest = lower.split("://", 1)
        else:
            want_scheme, rest = urlsplit(page_origin).scheme, lower
        rest = rest.split("/", 1)[0]
        want_host, _, want_port = rest.partition(":")
        scheme_ok = want_scheme == scheme or (want_scheme == "http" and scheme == "https")
        if not scheme_ok or not _host_matches(want_host, host):
            continue
        # No port: the source scheme's default, or the upgraded scheme's (http -> https).
        defaults = (DEFAULT_PORTS.get(want_scheme, ""), DEFAULT_PORTS.get(scheme, ""))
        if want_port == "*" or want_port == port or (not want_port and port in defaults):
            return True
    return False


def _fallback(directives: dict[str, list[str]], *names: str) -> tuple[str, list[str]] | None:
    for name in names:
        if name in directives:
            return name, directives[name]
    return None


def check_csp(ctx: Context, section: Section) -> None:
    headers = ctx.obs.document_headers
    policies = [("header", p) for p in _split(headers.get("content-security-policy", ""))]
    policies += [("meta", p) for value in ctx.obs.meta_csp for p in _split(value)]
    for where, text in policies:
        section.items.append({"source": where, "policy": ctx.red.known(text)})
    report_only = headers.get("content-security-policy-report-only")
    if report_only:
        section.items.append({"source": "report-only header", "policy": ctx.red.known(report_only)})
    if not policies:
        section.add(
            WARNING,
            "csp-missing",
            "the page sends no Content-Security-Policy",
            "The bridge works without one, but a policy is what keeps an injected script "
            "from reading the page.",
            f"Send the recommended policy: {HELPER}.",
        )
    found = 0
    for where, text in policies:
        found += _check_policy(ctx, section, where, parse_policy(text))
    for violation in ctx.obs.violations:
        found += 1
        _violation(ctx, section, violation)
    if policies and not found:
        section.add(OK, "csp-ok", "the policy gives the bridge what it needs, and no more")


def _check_policy(
    ctx: Context, section: Section, where: str, directives: dict[str, list[str]]
) -> int:
    found = 0
    script = _fallback(directives, "script-src", "default-src")
    if script is not None:
        name, sources = script
        lowered = [s.lower() for s in sources]
        if "'unsafe-eval'" in lowered:
            found += 1
            section.add(
                WARNING,
                "csp-unsafe-eval",
                f"{name} allows 'unsafe-eval' ({where})",
                "The bridge does not need it: it lets any script on the page run strings as code.",
                f"Remove 'unsafe-eval' and keep 'wasm-unsafe-eval' ({HELPER}).",
            )
        elif "'wasm-unsafe-eval'" not in lowered:
            found += 1
            section.add(
                PROBLEM,
                "csp-wasm",
                f"{name} lacks 'wasm-unsafe-eval' ({where})",
                "The interpreter (WebAssembly) cannot start: the containers end in error `boot`.",
                f"Add 'wasm-unsafe-eval' to {name}: script-src 'self' 'wasm-unsafe-eval' "
                f"({HELPER}).",
            )
    frame = _fallback(directives, "frame-src", "child-src", "default-src")
    if frame is not None:
        name, sources = frame
        if "*" in sources:
            found += 1
            section.add(
                WARNING,
                "csp-frame-src-wildcard",
                f"{name} * lets the page frame any site ({where})",
                "",
                "Name the embed origin only: frame-src "
                + (ctx.embed_origins or ["https://embed.meshes.io"])[0],
            )
        for embed in ctx.embed_origins:
            if not allows(sources, embed, ctx.origin):
                found += 1
                section.add(
                    PROBLEM,
                    "csp-frame-src",
                    f"{name} does not allow the embed origin {embed} ({where})",
                    "The browser refuses to load the Meshes iframe: the container stays "
                    "`mounted` and never authenticates.",
                    f"Add the embed origin: frame-src {embed} (it is MESHES_EMBED_ORIGIN; "
                    f"{HELPER}).",
                )
    connect = _fallback(directives, "connect-src", "default-src")
    if connect is not None and ctx.origin and not allows(connect[1], ctx.origin, ctx.origin):
        found += 1
        section.add(
            PROBLEM,
            "csp-connect-src",
            f"{connect[0]} does not allow 'self' ({where})",
            "The bridge's requests to your session and refresh endpoints are refused.",
            f"Add 'self' to connect-src: connect-src 'self' ({HELPER}).",
        )
    return found


def _violation(ctx: Context, section: Section, violation: dict[str, object]) -> None:
    directive = str(violation.get("directive") or violation.get("violated") or "?")
    blocked = str(violation.get("blocked") or "")
    shown = origin_of(blocked) or blocked.split(":")[0] or "?"  # never the whole URL
    report_only = violation.get("disposition") == "report"
    base = directive.split("-")[0]
    if base in ("frame", "child"):
        fix = f"Add the embed origin to frame-src: frame-src {shown}."
    elif base == "script" and shown in ("eval", "wasm-eval"):
        fix = "Add 'wasm-unsafe-eval' to script-src (never 'unsafe-eval')."
    elif base == "connect":
        fix = "Add 'self' to connect-src."
    else:
        fix = f"Allow it in {directive}, or remove what loads it."
    section.add(
        WARNING if report_only else PROBLEM,
        "csp-violation",
        f"the browser refused {shown} under {directive}"
        + (" (report-only)" if report_only else ""),
        ctx.red.known(f"source: {violation.get('source') or 'the page'}"),
        fix,
    )
    section.items.append(
        {
            "source": "violation",
            "policy": f"{directive} refused {shown}",
            "t_ms": violation.get("t"),
        }
    )
