from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, views

router = DefaultRouter()
router.register("qc/reviews", api.ReviewViewSet, basename="api-qc-review")
router.register("qc/review-items", api.ReviewItemViewSet, basename="api-qc-review-item")

urlpatterns = [
    path("qc/", views.ReviewQueueView.as_view(), name="review-queue"),
    path("qc/reviews/<int:pk>/", views.ReviewDetailView.as_view(), name="review-detail"),
    path("qc/reviews/<int:pk>/load-check/", views.LoadCheckView.as_view(), name="review-load-check"),
    path("qc/reviews/<int:pk>/undo/", views.ReviewUndoView.as_view(), name="review-undo"),
    path("qc/reviews/<int:pk>/submit/", views.ReviewSubmitView.as_view(), name="review-submit"),
    path("qc/items/<int:pk>/decide/", views.ItemDecideView.as_view(), name="review-item-decide"),
    path("qc/splits/<int:pk>/start/", views.StartReviewView.as_view(), name="review-start"),
    path("qc/splits/<int:pk>/", views.SplitHistoryView.as_view(), name="qc-split-history"),
    path("qc/splits/<int:pk>/second/", views.SecondReviewView.as_view(), name="review-second"),
    path("qc/dashboard/", views.DashboardView.as_view(), name="qc-dashboard"),
    path("qc/reviewers/", views.ReviewerStatsView.as_view(), name="qc-reviewers"),
    path("qc/returned/", views.ReturnedSplitsView.as_view(), name="qc-returned"),
    path("api/", include(router.urls)),
]
