from django.urls import path

from . import evaluation_views, views

urlpatterns = [
    path("training/", views.RunListView.as_view(), name="training-run-list"),
    path("training/<int:pk>/", views.RunDetailView.as_view(), name="training-run-detail"),
    path("training/<int:pk>/metrics/", views.RunMetricsView.as_view(), name="training-run-metrics"),
    path("training/<int:pk>/cancel/", views.RunCancelView.as_view(), name="training-run-cancel"),
    path("training/<int:pk>/resume/", views.RunResumeView.as_view(), name="training-run-resume"),
    path("training/<int:pk>/evaluate/", evaluation_views.RunEvaluateView.as_view(), name="training-run-evaluate"),
    path("evaluations/", evaluation_views.EvaluationListView.as_view(), name="evaluation-list"),
    path("evaluations/compare/", evaluation_views.CompareView.as_view(), name="evaluation-compare"),
    path(
        "evaluations/compare/<slug:table>.<str:fmt>",
        evaluation_views.CompareTableView.as_view(),
        name="evaluation-compare-table",
    ),
    path("evaluations/<int:pk>/", evaluation_views.EvaluationDetailView.as_view(), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/tables/<slug:table>.<str:fmt>",
        evaluation_views.EvaluationTableView.as_view(),
        name="evaluation-table",
    ),
    path(
        "evaluations/<int:pk>/predictions/",
        evaluation_views.PredictionListView.as_view(),
        name="evaluation-predictions",
    ),
    path("evaluations/judge/<int:pk>/", evaluation_views.JudgeDetailView.as_view(), name="judge-detail"),
    path("evaluations/ablations/<int:pk>/", evaluation_views.AblationDetailView.as_view(), name="ablation-detail"),
]
