"""The server half: mint and refresh Meshes sessions for the logged-in user.

Framework-free pieces live here (settings, the management API client, the stores and the
endpoint service); `meshes_bridge.flask`, `meshes_bridge.django` and
`meshes_bridge.fastapi` are thin adapters over them. Nothing here is shipped to the
browser.
"""

from meshes_bridge.server.client import AsyncMeshesClient, MeshesClient, RetryPolicy
from meshes_bridge.server.errors import (
    MeshesAPIError,
    MeshesCredentialsError,
    MeshesError,
    MeshesNotFoundError,
    MeshesRateLimitedError,
    MeshesUnavailableError,
    MeshesValidationError,
)
from meshes_bridge.server.models import MintedSession, RefreshedToken, SessionSummary
from meshes_bridge.server.service import EmbedService, EndpointReply, EndpointRequest, MintPolicy
from meshes_bridge.server.settings import ConfigurationError, MeshesSettings
from meshes_bridge.server.stores import BindingStore, MemoryStore, RedisStore

__all__ = [
    "AsyncMeshesClient",
    "BindingStore",
    "ConfigurationError",
    "EmbedService",
    "EndpointReply",
    "EndpointRequest",
    "MemoryStore",
    "MeshesAPIError",
    "MeshesClient",
    "MeshesCredentialsError",
    "MeshesError",
    "MeshesNotFoundError",
    "MeshesRateLimitedError",
    "MeshesSettings",
    "MeshesUnavailableError",
    "MeshesValidationError",
    "MintPolicy",
    "MintedSession",
    "RedisStore",
    "RefreshedToken",
    "RetryPolicy",
    "SessionSummary",
]
