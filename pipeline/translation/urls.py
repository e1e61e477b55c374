from django.urls import path

from . import api, views

urlpatterns = [
    path("translation/", views.TranslationView.as_view(), name="translation"),
    path("translation/calibrate/", views.CalibrateView.as_view(), name="translation-calibrate"),
    path("translation/tasks/<slug:slug>/flag/", views.TaskFlagView.as_view(), name="translation-task-flag"),
    path("translation/jobs/<int:pk>/", views.TranslationJobView.as_view(), name="translation-job"),
    path("translation/jobs/<int:pk>/cancel/", views.TranslationCancelView.as_view(), name="translation-cancel"),
    path("translation/jobs/<int:pk>/resume/", views.TranslationResumeView.as_view(), name="translation-resume"),
    path("translation/results/", views.ResultsIndexView.as_view(), name="translation-results-index"),
    path("translation/results/<slug:slug>/<str:code>/", views.ResultsView.as_view(), name="translation-results"),
    path(
        "translation/results/<slug:slug>/<str:code>/unusable/",
        views.UnusableView.as_view(),
        name="translation-unusable",
    ),
    path("api/translation/", api.TranslateAPI.as_view(), name="api-translation"),
    path("api/translation/languages/", api.LanguageListAPI.as_view(), name="api-translation-languages"),
]
