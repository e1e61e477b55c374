"""The navigation bar: each app's pages appear once their URL exists, filtered by role."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from annotator import roles
from qc.access import work_counts

# (label, url name, who sees it: "all", "annotator", "reviewer", "admin")
# Items whose label carries a count of what waits for the person (qc.access.work_counts keys).
COUNTED = {"review-queue": "review", "qc-returned": "returned"}
NAV_ITEMS = (
    ("Home", "home", "all"),
    ("Tasks", "task-list", "all"),
    ("Instructions", "instruction-stats", "all"),
    ("Samples", "sample-list", "admin"),
    ("Imports", "import-list", "admin"),
    ("Paraphrase", "paraphrase-start", "admin"),
    ("Translation", "translation", "admin"),
    ("Translations", "translation-results-index", "reviewer"),
    ("Review", "review-queue", "reviewer"),
    ("QC dashboard", "qc-dashboard", "admin"),
    ("Sent back by QC", "qc-returned", "annotator"),
    ("Exports", "export-list", "admin"),
    ("Training", "training-run-list", "admin"),
    ("Evaluations", "evaluation-list", "admin"),
    ("Jobs", "job-list", "admin"),
    ("API", "api-docs", "all"),
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
