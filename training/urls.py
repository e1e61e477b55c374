from django.urls import path

from . import views

urlpatterns = [
    path("evaluations/", views.EvaluationListView.as_view(), name="evaluation-list"),
    path("evaluations/compare/", views.CompareView.as_view(), name="evaluation-compare"),
    path(
        "evaluations/compare/<slug:table>.<str:fmt>",
        views.CompareTableView.as_view(),
        name="evaluation-compare-table",
    ),
    path("evaluations/<int:pk>/", views.EvaluationDetailView.as_view(), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/tables/<slug:table>.<str:fmt>",
        views.EvaluationTableView.as_view(),
        name="evaluation-table",
    ),
    path("evaluations/<int:pk>/predictions/", views.PredictionListView.as_view(), name="evaluation-predictions"),
    path("evaluations/judge/<int:pk>/", views.JudgeDetailView.as_view(), name="judge-detail"),
    path("evaluations/ablations/<int:pk>/", views.AblationDetailView.as_view(), name="ablation-detail"),
]
