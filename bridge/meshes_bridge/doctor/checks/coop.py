"""The page's Cross-Origin-Opener-Policy: the embed's OAuth popups need their opener."""

from __future__ import annotations

from meshes_bridge.doctor.checks.context import Context
from meshes_bridge.doctor.report import OK, PROBLEM, Section

BREAKS_POPUPS = ("same-origin", "noopener-allow-popups")


def check_coop(ctx: Context, section: Section) -> None:
    value = ctx.obs.document_headers.get("cross-origin-opener-policy", "")
    policy = value.split(";")[0].strip().lower()
    section.items.append({"header": value or None})
    if policy in BREAKS_POPUPS:
        section.add(
            PROBLEM,
            "coop-same-origin",
            f"Cross-Origin-Opener-Policy: {policy}",
            "The popups the embed opens for OAuth connection setup lose their opener: the "
            "connection cannot report back to the embed.",
            "Send Cross-Origin-Opener-Policy: same-origin-allow-popups (or none). Django: "
            'SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups" (its default, '
            "same-origin, is check meshes_bridge.W003).",
        )
        return
    section.add(
        OK,
        "coop-ok",
        f"Cross-Origin-Opener-Policy: {policy}" if policy else "no Cross-Origin-Opener-Policy",
        "the embed's OAuth popups keep their opener",
    )
