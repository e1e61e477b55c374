"""The pipeline's URLs: each step's pages, and one API router over every step's viewsets."""

from importlib.util import find_spec

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from pipeline import STEPS
from pipeline.export.api import ExportViewSet
from pipeline.imports.api import ImportViewSet
from pipeline.jobs.api import JobViewSet
from pipeline.samples.api import SampleViewSet

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="api-job")
router.register("exports", ExportViewSet, basename="api-export")
router.register("imports", ImportViewSet, basename="api-import")
router.register("samples", SampleViewSet, basename="api-sample")

urlpatterns = [
    *[path("", include(f"pipeline.{step}.urls")) for step in STEPS if find_spec(f"pipeline.{step}.urls")],
    path("api/", include(router.urls)),
]
