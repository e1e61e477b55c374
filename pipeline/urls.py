from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, views

router = DefaultRouter()
router.register("jobs", api.JobViewSet, basename="api-job")

urlpatterns = [
    path("images/<str:sha256>/", views.ImageFileView.as_view(), name="image-file"),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("api/", include(router.urls)),
]
