"""The example's pages: a login form (Django's auth), the page with the embed, logout."""

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from meshes_bridge.django.service import content_security_policy

RUNTIMES = ("micropython", "pyodide")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        user = authenticate(
            request,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        if user is not None:
            login(request, user)
            return redirect("index")
        return render(request, "login.html", {"failed": True}, status=401)
    return render(request, "login.html")


# --8<-- [start:logout]
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    # Django sends user_logged_out: meshes-bridge revokes this user's live sessions.
    logout(request)
    return redirect("login")


# --8<-- [end:logout]


# --8<-- [start:page]
@login_required
def index(request: HttpRequest) -> HttpResponse:
    runtime = request.GET.get("runtime", "micropython")
    if runtime not in RUNTIMES:
        return HttpResponseBadRequest("runtime must be micropython or pyodide")
    response = render(request, "index.html", {"runtime": runtime})
    response["Content-Security-Policy"] = content_security_policy()
    return response


# --8<-- [end:page]
