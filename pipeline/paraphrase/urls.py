from django.urls import path

from pipeline.paraphrase import api, views

urlpatterns = [
    path("paraphrase/", views.ParaphraseStartView.as_view(), name="paraphrase-start"),
    path("paraphrase/jobs/<int:pk>/", views.ParaphraseJobView.as_view(), name="paraphrase-job"),
    path("paraphrase/samples/<int:pk>/", views.ParaphraseSampleView.as_view(), name="paraphrase-sample"),
    path("api/paraphrase/", api.ParaphraseStartAPI.as_view(), name="api-paraphrase-start"),
]
