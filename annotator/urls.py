from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, stage1_views, views

router = DefaultRouter()
router.register("tasks", api.TaskViewSet, basename="api-task")
router.register("instructions", api.InstructionViewSet, basename="api-instruction")
router.register("pools", api.PoolViewSet, basename="api-pool")

urlpatterns = [
    path("i18n/language/", views.LanguageView.as_view(), name="set-language"),
    path("tasks/", views.TaskListView.as_view(), name="task-list"),
    path("tasks/<slug:slug>/instructions/add/", stage1_views.InstructionAddView.as_view(), name="instruction-add"),
    path(
        "tasks/<slug:slug>/instructions/<int:pk>/edit/",
        stage1_views.InstructionEditView.as_view(),
        name="instruction-edit",
    ),
    path(
        "tasks/<slug:slug>/instructions/<int:pk>/delete/",
        stage1_views.InstructionDeleteView.as_view(),
        name="instruction-delete",
    ),
    path(
        "tasks/<slug:slug>/instructions/<int:pk>/move/",
        stage1_views.InstructionMoveView.as_view(),
        name="instruction-move",
    ),
    path("tasks/<slug:slug>/instructions/live/", stage1_views.PoolLiveStatsView.as_view(), name="pool-live-stats"),
    path("tasks/<slug:slug>/instructions/submit/", stage1_views.PoolSubmitView.as_view(), name="pool-submit"),
    path("tasks/<slug:slug>/instructions/return/", stage1_views.PoolReturnView.as_view(), name="pool-return"),
    path("tasks/<slug:slug>/instructions/unlock/", stage1_views.PoolUnlockView.as_view(), name="pool-unlock"),
    path(
        "tasks/<slug:slug>/instructions.json", stage1_views.InstructionExportView.as_view(), name="instruction-export"
    ),
    path(
        "tasks/<slug:slug>/instructions/import/",
        stage1_views.InstructionImportView.as_view(),
        name="instruction-import",
    ),
    path("instructions/statistics/", stage1_views.InstructionStatsView.as_view(), name="instruction-stats"),
    path("instructions/statistics.csv", stage1_views.InstructionStatsCsvView.as_view(), name="instruction-stats-csv"),
    path("api/", include(router.urls)),
]
