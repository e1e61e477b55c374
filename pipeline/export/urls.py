from django.urls import path

from pipeline.export import views

urlpatterns = [
    path("exports/", views.ExportListView.as_view(), name="export-list"),
    path("exports/<int:pk>/", views.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", views.ExportDownloadView.as_view(), name="export-download"),
    path("exports/<int:pk>/files/<path:relative>", views.ExportFileView.as_view(), name="export-file"),
    path("exports/<int:pk>/delete/", views.ExportDeleteView.as_view(), name="export-delete"),
]
