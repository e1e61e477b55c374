from django.urls import path

from home import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("tasks/<slug:slug>/", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<slug:slug>/assign/", views.TaskAssignView.as_view(), name="task-assign"),
]
