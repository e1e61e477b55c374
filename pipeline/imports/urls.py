from django.urls import path

from pipeline.imports import views

urlpatterns = [
    path("imports/", views.ImportListView.as_view(), name="import-list"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<int:pk>/rejected.csv", views.ImportReportView.as_view(), name="import-report"),
    path("imports/<int:pk>/rerun/", views.ImportRetryView.as_view(), name="import-rerun"),
]
