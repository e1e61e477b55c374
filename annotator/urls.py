from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, views

router = DefaultRouter()
router.register("tasks", api.TaskViewSet, basename="api-task")

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("tasks/", views.TaskListView.as_view(), name="task-list"),
    path("tasks/<slug:slug>/", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<slug:slug>/assign/", views.TaskAssignView.as_view(), name="task-assign"),
    path("api/", include(router.urls)),
]
