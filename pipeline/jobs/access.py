"""Who may see which pipeline objects. Every view and API endpoint filters through here."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from annotator import roles
from pipeline.models import Job


def visible_jobs(user: Any) -> QuerySet[Job]:
    """Admins see every job; anyone else only the jobs they started."""
    jobs = Job.objects.select_related("created_by", "task")
    if roles.is_admin(user):
        return jobs
    if not user.is_authenticated:
        return jobs.none()
    return jobs.filter(created_by=user)


def listed_jobs(user: Any) -> QuerySet[Job]:
    """visible_jobs without the parts of a larger job (paraphrase chunks): those show on their parent's page."""
    return visible_jobs(user).exclude(params__has_key="parent")
