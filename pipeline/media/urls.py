from django.urls import path

from pipeline.media import views

urlpatterns = [
    path("images/<str:sha256>/", views.ImageFileView.as_view(), name="image-file"),
]
