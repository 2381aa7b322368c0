"""Messages the bridge rejected, console errors, uncaught exceptions."""

from __future__ import annotations

from meshes_bridge.core.wire import CONSOLE_PREFIX
from meshes_bridge.doctor.checks.context import Context
from meshes_bridge.doctor.report import OK, PROBLEM, WARNING, Section

# Console lines another section already explains: a failed download (Assets, requests),
# a CSP refusal (CSP), a .wasm of the wrong MIME type (Assets).
_EXPLAINED = (
    "Failed to load resource",
    "Refused to",
    "Content Security Policy",
    "wasm streaming compile failed",
    "falling back to ArrayBuffer instantiation",
)


def check_messages(ctx: Context, section: Section) -> None:
    rejected: dict[tuple[str, str], int] = {}
    bridge_errors = 0
    for container in ctx.obs.containers:
        for event in container.get("events") or []:
            detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
            if event.get("name") == "rejected":
                key = (str(detail.get("reason") or "?"), str(detail.get("origin") or "?"))
                rejected[key] = rejected.get(key, 0) + 1
            elif event.get("name") == "error":
                bridge_errors += 1
    for (reason, origin), count in rejected.items():
        origin = ctx.red.known(origin)
        section.items.append(
            {"kind": "rejected", "text": f"{reason} from {origin}", "count": count}
        )
        embed = origin in ctx.embed_origins
        section.add(
            WARNING,
            "message-rejected",
            f"{count} message{'' if count == 1 else 's'} from {origin} rejected ({reason})",
            "The bridge ignored them; nothing changed.",
            "The embed and this bridge disagree on the message contract: upgrade meshes-bridge."
            if embed and reason in ("shape", "unknown-type")
            else "Harmless for the embed: another script or frame on the page posts window "
            "messages. Remove it if it is not yours.",
        )
    for line in ctx.obs.console:
        if line.type not in ("error", "warning"):
            continue
        text = ctx.red.text(line.text)
        section.items.append({"kind": f"console {line.type}", "text": text, "count": 1})
        if line.type != "error" or any(known in line.text for known in _EXPLAINED):
            continue
        if line.text.startswith(CONSOLE_PREFIX):
            if bridge_errors:
                continue  # the container's error, with its fix, is in Containers
            section.add(
                PROBLEM, "console-bridge", text, "", "See docs/troubleshooting.md for the code."
            )
        else:
            section.add(
                WARNING,
                "console-error",
                text,
                "an error another script on the page logged",
                "Fix that script, or ignore this if it does not touch the embed.",
            )
    for error in ctx.obs.page_errors:
        text = ctx.red.text(error)
        section.items.append({"kind": "uncaught", "text": text, "count": 1})
        section.add(
            PROBLEM,
            "page-error",
            f"uncaught exception: {text}",
            "",
            "Fix the script that threw it (an uncaught error may stop others on the page).",
        )
    if not section.findings:
        title = "no rejected message, console error or uncaught exception"
        if section.items:  # console lines of a failed download or a refusal named above
            title = "no rejected message or uncaught exception; the console errors listed are "
            title += "the ones the sections above explain"
        section.add(OK, "messages-ok", title)
