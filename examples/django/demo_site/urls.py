from django.urls import include, path

from demo_site import views

urlpatterns = [
    path("", views.index, name="index"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    # POST /meshes/session and POST /meshes/session/<session_id>/refresh
    path("meshes/", include("meshes_bridge.django.urls")),
]
