"""What the Meshes embed contract fixes about the management API, written down once.

Facts of Meshes, not choices of the client: the client builds its mint body from them and
the fake Meshes of the test kit (`meshes_bridge.testing.doubles.fake_meshes`) validates
bodies against them. The fake reads them here, never from the client, and checks every
field's value by its own rules (ranges, defaults, which fields go together), so what the
client sends is still judged by the contract, not by the client itself.
"""

#: The optional fields of a mint body (`POST /api/v1/sessions`) besides `workspace_id`,
#: in the order the contract lists them.
CREATE_FIELDS = (
    "session_type",
    "role",
    "external_user_id",
    "ttl_seconds",
    "launch_ttl_seconds",
    "launch_page",
    "launch_path",
    "resource",
    "resource_id",
    "allowed_origins",
    "scopes",
)
