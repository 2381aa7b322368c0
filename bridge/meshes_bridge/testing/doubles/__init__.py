"""Test doubles for meshes-bridge: real HTTP servers on four loopback origins.

* HOST: the host team's backend (mint/refresh endpoints, the asset tree, test pages);
* EMBED: a stub of the Meshes embed that behaves as the embed contract says;
* HOSTILE: attacker pages that post forged messages;
* API: a fake Meshes management API (machine-JWT auth, sessions, fault injection).

Start them with :func:`start_servers`; README.md here has the whole API and the
transcript's event names.
"""

from meshes_bridge.testing.doubles.fake_meshes import (
    DEFAULT_WORKSPACE_ID,
    LAUNCH_PAGES,
    FakeMeshes,
    ManualClock,
    MeshesError,
    SessionNotFound,
    SessionView,
    TokenCheck,
    ValidationError,
)
from meshes_bridge.testing.doubles.faults import Faults
from meshes_bridge.testing.doubles.host_backend import HostBackend, RecordedRequest, page_html
from meshes_bridge.testing.doubles.hostile import Hostile, HostileMessage
from meshes_bridge.testing.doubles.management_api import (
    API_ENDPOINTS,
    TEST_ACCESS_KEY,
    TEST_KEY,
    TEST_ORG_ID,
    TEST_SECRET_KEY,
    ApiCall,
    MachineKey,
    ManagementAPI,
    TokenRejected,
    machine_jwt,
)
from meshes_bridge.testing.doubles.servers import Servers, start_servers
from meshes_bridge.testing.doubles.stub_embed import LAUNCH_ERROR, StubEmbed
from meshes_bridge.testing.doubles.transcript import Transcript, TranscriptEntry, redact

__all__ = [
    "API_ENDPOINTS",
    "DEFAULT_WORKSPACE_ID",
    "LAUNCH_ERROR",
    "LAUNCH_PAGES",
    "TEST_ACCESS_KEY",
    "TEST_KEY",
    "TEST_ORG_ID",
    "TEST_SECRET_KEY",
    "ApiCall",
    "FakeMeshes",
    "Faults",
    "HostBackend",
    "Hostile",
    "HostileMessage",
    "MachineKey",
    "ManagementAPI",
    "ManualClock",
    "MeshesError",
    "RecordedRequest",
    "Servers",
    "SessionNotFound",
    "SessionView",
    "StubEmbed",
    "TokenCheck",
    "TokenRejected",
    "Transcript",
    "TranscriptEntry",
    "ValidationError",
    "machine_jwt",
    "page_html",
    "redact",
    "start_servers",
]
