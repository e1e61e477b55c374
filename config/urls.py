from importlib import import_module

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import APIRootView

APPS = ("home", "annotator", "pipeline", "qc", "training")
# API endpoints outside the routers, listed on /api/ too (prefix → URL name).
EXTRA_API_ENTRIES = {"paraphrase": "api-paraphrase-start"}


def api_root_entries() -> dict[str, str]:
    """Every app's DRF router entries, for one /api/ index (each app's own router root only knows its own)."""
    entries: dict[str, str] = {}
    for app in APPS:
        router = getattr(import_module(f"{app}.urls"), "router", None)
        if router is not None:
            entries.update({prefix: f"{basename}-list" for prefix, _viewset, basename in router.registry})
    entries.update(EXTRA_API_ENTRIES)
    return entries


urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/", APIRootView.as_view(api_root_dict=api_root_entries()), name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    *[path("", include(f"{app}.urls")) for app in APPS],
]
