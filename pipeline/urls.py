from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, export_api, export_views, paraphrase_views, views

router = DefaultRouter()
router.register("jobs", api.JobViewSet, basename="api-job")
router.register("exports", export_api.ExportViewSet, basename="api-export")
router.register("imports", api.ImportViewSet, basename="api-import")
router.register("samples", api.SampleViewSet, basename="api-sample")

urlpatterns = [
    path("images/<str:sha256>/", views.ImageFileView.as_view(), name="image-file"),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("exports/", export_views.ExportListView.as_view(), name="export-list"),
    path("exports/<int:pk>/", export_views.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", export_views.ExportDownloadView.as_view(), name="export-download"),
    path("exports/<int:pk>/files/<path:relative>", export_views.ExportFileView.as_view(), name="export-file"),
    path("exports/<int:pk>/delete/", export_views.ExportDeleteView.as_view(), name="export-delete"),
    path("imports/", views.ImportListView.as_view(), name="import-list"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<int:pk>/rejected.csv", views.ImportReportView.as_view(), name="import-report"),
    path("imports/<int:pk>/rerun/", views.ImportRetryView.as_view(), name="import-rerun"),
    path("samples/", views.SampleListView.as_view(), name="sample-list"),
    path("samples/<int:pk>/", views.SampleDetailView.as_view(), name="sample-detail"),
    path("paraphrase/", paraphrase_views.ParaphraseStartView.as_view(), name="paraphrase-start"),
    path("paraphrase/jobs/<int:pk>/", paraphrase_views.ParaphraseJobView.as_view(), name="paraphrase-job"),
    path("paraphrase/samples/<int:pk>/", paraphrase_views.ParaphraseSampleView.as_view(), name="paraphrase-sample"),
    path("api/paraphrase/", paraphrase_views.ParaphraseStartAPI.as_view(), name="api-paraphrase-start"),
    path("api/", include(router.urls)),
]
