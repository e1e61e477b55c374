"""The navigation bar: each app's pages appear once their URL exists, filtered by role."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from annotator import roles
from qc.access import work_counts

# (label, url name, who sees it: "all", "annotator", "reviewer", "admin")
# Items whose label carries a count of what waits for the person (qc.access.work_counts keys).
COUNTED = {"review-queue": "review", "qc-returned": "returned"}
NAV_ITEMS = (
    (_("Home"), "home", "all"),
    (_("Tasks"), "task-list", "all"),
    (_("Instructions"), "instruction-stats", "all"),
    (_("Samples"), "sample-list", "admin"),
    (_("Imports"), "import-list", "admin"),
    (_("Paraphrase"), "paraphrase-start", "admin"),
    (_("Translation"), "translation", "admin"),
    (_("Translations"), "translation-results-index", "reviewer"),
    (_("Review"), "review-queue", "reviewer"),
    (_("QC dashboard"), "qc-dashboard", "admin"),
    (_("Sent back by QC"), "qc-returned", "annotator"),
    (_("Exports"), "export-list", "admin"),
    (_("Training"), "training-run-list", "admin"),
    (_("Evaluations"), "evaluation-list", "admin"),
    (_("Jobs"), "job-list", "admin"),
    (_("API"), "api-docs", "all"),
)


def navigation(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    user_roles = roles.roles_of(user)
    counts = work_counts(user)
    items = []
    for label, name, audience in NAV_ITEMS:
        if audience != "all" and audience not in user_roles and "admin" not in user_roles:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append(
            {"label": label, "url": url, "active": request.path == url, "count": counts.get(COUNTED.get(name, ""))}
        )
    return {"nav_items": items, "user_roles": user_roles}
