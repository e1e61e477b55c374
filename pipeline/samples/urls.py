from django.urls import path

from pipeline.samples import views

urlpatterns = [
    path("samples/", views.SampleListView.as_view(), name="sample-list"),
    path("samples/<int:pk>/", views.SampleDetailView.as_view(), name="sample-detail"),
    path("samples/delete/", views.SampleDeleteView.as_view(), name="sample-delete"),
]
