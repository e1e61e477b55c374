"""No page counts samples: the numbers come from the splits' counters (pipeline.samples.counts).

Every page of every role that shows sample numbers is requested with its queries captured; none may run
a COUNT over the samples table (or its image links), since that grows with the data. The numbers shown
must still be right: they are checked against the rows.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from qc import review
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db

COUNTS_SAMPLES = re.compile(r'COUNT\(.*FROM "pipeline_sample(image)?"', re.S)


def sample_counts(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [q["sql"] for q in ctx.captured_queries if COUNTS_SAMPLES.search(q["sql"])]


def test_no_page_of_any_role_counts_samples(client):
    from tests.factories import AdminFactory

    s = make_split(14, slug="vqa-counted")
    rev = review.start_review(s.split, s.reviewer)
    admin = AdminFactory()
    pages = {
        admin: ["/", "/tasks/", f"/tasks/{s.task.slug}/", "/samples/", f"/samples/?task={s.task.slug}&split=train",
                "/qc/dashboard/", "/paraphrase/", "/jobs/", "/imports/", "/exports/", "/instructions/statistics/",
                f"/qc/splits/{s.split.pk}/", f"/samples/{s.samples[0].pk}/", "/api/samples/", "/api/tasks/",
                "/api/jobs/"],
        s.reviewer: ["/", "/qc/", f"/qc/reviews/{rev.pk}/", "/qc/returned/", "/api/qc/review-items/"],
        s.writer: ["/", f"/tasks/{s.task.slug}/"],
    }  # fmt: skip
    for user, urls in pages.items():
        client.force_login(user)
        for url in urls:
            assert sample_counts(client, url) == [], url

    # The numbers are still there and right.
    client.force_login(s.reviewer)
    assert "14" in client.get("/").content.decode()
    client.force_login(admin)
    home = client.get("/").content.decode()
    assert re.search(r"\b14\b", home), "the admin's sample total"
