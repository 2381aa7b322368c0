"""The fake Meshes for a host team's tests: real HTTP servers on three loopback origins.

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
from meshes_bridge.testing.doubles.servers import Servers, serve_doubles, start_servers
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
    "Hostile",
    "HostileMessage",
    "MachineKey",
    "ManagementAPI",
    "ManualClock",
    "MeshesError",
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
    "redact",
    "serve_doubles",
    "start_servers",
]
