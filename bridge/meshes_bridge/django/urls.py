"""The two endpoints, for ``path("meshes/", include("meshes_bridge.django.urls"))``:

    POST meshes/session                          name "meshes_bridge:session"
    POST meshes/session/<session_id>/refresh     name "meshes_bridge:refresh"

No trailing slash (the bridge posts to the URLs as rendered): the paths match as they
are, so APPEND_SLASH never redirects them. Any other path below ``meshes/session/``
(``session//refresh``, ``session/a/b/refresh``) is the endpoints' JSON 404.
"""

from django.urls import path, re_path

from meshes_bridge.django import views

app_name = "meshes_bridge"

urlpatterns = [
    path("session", views.session, name="session"),
    path("session/<str:session_id>/refresh", views.refresh, name="refresh"),
    re_path(r"^session/", views.unknown),  # a prefix: whatever follows, newlines too
]
