from django.urls import path

from . import views

urlpatterns = [
    path("training/", views.RunListView.as_view(), name="training-run-list"),
    path("training/<int:pk>/", views.RunDetailView.as_view(), name="training-run-detail"),
    path("training/<int:pk>/metrics/", views.RunMetricsView.as_view(), name="training-run-metrics"),
    path("training/<int:pk>/cancel/", views.RunCancelView.as_view(), name="training-run-cancel"),
    path("training/<int:pk>/resume/", views.RunResumeView.as_view(), name="training-run-resume"),
]
