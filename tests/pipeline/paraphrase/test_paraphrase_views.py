"""The Stage II pages, API and management command: roles, estimate, start, escaping of LLM output."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotator.models import TaskSplit
from pipeline.models import Job, JobKind, JobStatus, ParaphraseBudget, ParaphraseState, Sample
from pipeline.samples import counts
from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db

PAGES = ["paraphrase-start", "paraphrase-job", "paraphrase-sample"]


def _samples(slug: str, rows: list[tuple[str, str]], split: str = "train") -> list[Sample]:
    task = TaskFactory(slug=slug)
    counts.insert_samples([
        Sample(task=task, split=split, source_id=f"s{i}", inputs=q, outputs=a, original_output=a,
               paraphrase_state=ParaphraseState.PENDING)
        for i, (q, a) in enumerate(rows)
    ])  # fmt: skip
    return list(Sample.objects.filter(task=task).order_by("id"))


def _url(name: str, job: Job, sample: Sample) -> str:
    return reverse(
        name, args=[job.pk] if name == "paraphrase-job" else [sample.pk] if name == "paraphrase-sample" else []
    )


@pytest.fixture
def job_and_sample(admin_user):
    sample = _samples("vqa-pages", [("What is it?", "kite")])[0]
    job = Job.objects.create(
        kind=JobKind.PARAPHRASE,
        task_name="pipeline.paraphrase.tasks.paraphrase_answers",
        created_by=admin_user,
        params={"splits": ["vqa-pages/train"]},
    )
    return job, sample


@pytest.mark.parametrize("name", PAGES)
def test_pages_are_for_admins_only(client, job_and_sample, name):
    url = _url(name, *job_and_sample)
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    for user in (AnnotatorFactory(), ReviewerFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(AdminFactory())
    assert client.get(url).status_code == 200


def test_api_is_for_admins_only(client):
    url = reverse("api-paraphrase-start")
    # anonymous: 403 like every API endpoint; a signed-in non-admin: 404
    assert client.post(url, {"splits": ["x/train"]}, content_type="application/json").status_code == 403
    client.force_login(AnnotatorFactory())
    assert client.post(url, {"splits": ["x/train"]}, content_type="application/json").status_code == 404
    assert not Job.objects.exists()


def test_start_page_shows_pending_splits_estimate_and_the_no_key_warning(client, settings):
    settings.OPENAI_API_KEY = ""
    settings.PARAPHRASE_MODEL = "model-x"
    _samples("vqa-a", [("What is it?", "kite"), ("How many?", "3")])
    _samples("vqa-b", [("Colour?", "red")], split="val")
    client.force_login(AdminFactory())

    page = client.get(reverse("paraphrase-start")).content.decode()
    assert "No API key is configured" in page
    assert "vqa-a/train" in page and "2 pending" in page and "vqa-b/val" in page and "1 pending" in page

    page = client.get(reverse("paraphrase-start"), {"splits": ["vqa-a/train"]}).content.decode()
    assert 'data-field="samples">2<' in page and "model-x" in page and "not called: no API key" in page

    settings.OPENAI_API_KEY = "k"
    page = client.get(reverse("paraphrase-start"), {"splits": ["vqa-a/train", "vqa-b/val"]}).content.decode()
    assert 'data-field="samples">3<' in page and "No API key is configured" not in page


def test_estimate_is_a_post_form_that_keeps_the_csrf_token_out_of_the_url(client, settings):
    """Issue 15, item 18: the Estimate form was a GET form carrying the CSRF token into the URL and the log."""
    settings.OPENAI_API_KEY = "k"
    _samples("vqa-post", [("What is it?", "kite")])
    client.force_login(AdminFactory())
    page = client.get(reverse("paraphrase-start")).content.decode()
    form = page[page.index('<form method="post" action="/paraphrase/" id="paraphrase-form">') :]
    form = form[: form.index("</form>")]
    assert 'name="estimate"' in form and 'name="start"' in form and "csrfmiddlewaretoken" in form
    estimate = client.post(reverse("paraphrase-start"), {"splits": ["vqa-post/train"], "estimate": "1"})
    assert estimate.status_code == 200 and 'data-field="samples">1<' in estimate.content.decode()
    assert not Job.objects.exists()  # estimating starts nothing


def test_start_creates_the_job_with_budget_and_bad_input_is_refused(client, settings):
    settings.OPENAI_API_KEY = "k"
    _samples("vqa-c", [("What is it?", "kite")])
    client.force_login(AdminFactory())
    url = reverse("paraphrase-start")

    bad = client.post(url, {"splits": ["vqa-c/train"], "budget_usd": "-1"})
    assert bad.status_code == 400 and not Job.objects.exists()
    unknown = client.post(url, {"splits": ["nope/train"]})
    assert unknown.status_code == 400 and "nope/train" in unknown.content.decode()

    response = client.post(url, {"splits": ["vqa-c/train"], "budget_usd": "1.25"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("paraphrase-job", args=[job.pk])
    assert (job.kind, job.queue, job.total) == (JobKind.PARAPHRASE, "llm", 1)
    assert job.params["splits"] == ["vqa-c/train"] and job.params["budget_usd"] == 1.25
    assert ParaphraseBudget.objects.get(job=job).limit_micro_usd == 1_250_000

    # The job has not run yet (no worker here): a second one on the same split is refused.
    again = client.post(url, {"splits": ["vqa-c/train"]})
    assert again.status_code == 409 and f"Job #{job.pk} is already paraphrasing vqa-c/train" in again.content.decode()
    api = client.post(reverse("api-paraphrase-start"), {"splits": ["vqa-c/train"]}, content_type="application/json")
    assert api.status_code == 409 and Job.objects.count() == 1

    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    counts.set_states(Sample.objects.all(), paraphrase_state=ParaphraseState.ACCEPTED)
    nothing = client.post(url, {"splits": ["vqa-c/train"]})
    assert nothing.status_code == 400 and "Nothing to paraphrase" in nothing.content.decode()


def test_llm_output_is_escaped_on_every_page(client, eager_jobs, settings):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with FakeLLM() as server:
        settings.OPENAI_API_KEY = "k"
        settings.OPENAI_BASE_URL = server.base_url
        sample = _samples("vqa-esc", [("What is it?", "kite")])[0]
        client.force_login(AdminFactory())
        with eager_jobs():
            client.post(reverse("paraphrase-start"), {"splits": ["vqa-esc/train"]})
    job = Job.objects.filter(params__has_key="splits").get()
    provenance = {**Sample.objects.get(pk=sample.pk).paraphrase, "response": hostile, "raw": hostile}
    Sample.objects.filter(pk=sample.pk).update(outputs=hostile, paraphrase=provenance)
    for url in (reverse("paraphrase-job", args=[job.pk]), reverse("paraphrase-sample", args=[sample.pk])):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_job_page_shows_outcomes_of_a_finished_run(client, eager_jobs, settings):
    settings.OPENAI_API_KEY = ""
    _samples("vqa-d", [("What is it?", "kite"), ("Anything?", "")])
    client.force_login(AdminFactory())
    with eager_jobs():
        client.post(reverse("paraphrase-start"), {"splits": ["vqa-d/train"]})
    job = Job.objects.filter(params__has_key="splits").get()
    assert job.status == JobStatus.SUCCEEDED
    page = client.get(reverse("paraphrase-job", args=[job.pk])).content.decode()
    assert "This job ran without an API key" in page
    assert 'data-count="fallback">1<' in page and 'data-count="failed">1<' in page
    assert "The answer is kite." in page and "no API key is configured, so the template was used" in page
    only_failed = client.get(reverse("paraphrase-job", args=[job.pk]), {"outcome": "failed"}).content.decode()
    assert "The answer is kite." not in only_failed and "the sample has no original answer" in only_failed


def test_api_estimates_and_starts(client, settings):
    settings.OPENAI_API_KEY = "k"
    settings.PARAPHRASE_MODEL = "model-y"
    _samples("vqa-e", [("What is it?", "kite"), ("Where?", "park")])
    client.force_login(AdminFactory())
    url = reverse("api-paraphrase-start")

    dry = client.post(url, {"splits": ["vqa-e/train"], "dry_run": True}, content_type="application/json")
    assert dry.status_code == 200 and dry.json()["estimate"]["samples"] == 2
    assert dry.json()["estimate"]["model"] == "model-y" and not Job.objects.exists()

    bad = client.post(url, {"splits": ["vqa-e/nope"]}, content_type="application/json")
    assert bad.status_code == 400 and "vqa-e/nope" in bad.json()["splits"][0]

    started = client.post(url, {"splits": ["vqa-e/train"], "budget_usd": "0.5"}, content_type="application/json")
    assert started.status_code == 202
    body = started.json()
    assert (
        body["job"]["kind"] == "paraphrase" and body["job"]["total"] == 2 and body["job"]["params"]["budget_usd"] == 0.5
    )


@pytest.mark.django_db(transaction=True)
def test_management_command_runs_inline_with_a_progress_bar(settings):
    settings.OPENAI_API_KEY = ""
    _samples("vqa-cli", [("What is it?", "kite"), ("Where?", "park"), ("How many?", "2")])
    out, err = io.StringIO(), io.StringIO()
    call_command("paraphrase_answers", "vqa-cli/train", "--inline", stdout=out, stderr=err)
    text = out.getvalue()
    assert "3 samples" in text and "No OPENAI_API_KEY" in text and "succeeded" in text
    assert "3/3" in err.getvalue()  # the tqdm bar
    assert set(Sample.objects.values_list("paraphrase_state", flat=True)) == {ParaphraseState.FALLBACK}
    assert TaskSplit.objects.filter(task__slug="vqa-cli").count() == 3


def test_chunk_jobs_stay_off_the_job_lists_and_link_to_their_parent(client, eager_jobs, settings):
    settings.OPENAI_API_KEY = ""
    settings.PARAPHRASE_CHUNK_SIZE = 1
    _samples("vqa-f", [("What is it?", "kite"), ("Where?", "park")])
    admin = AdminFactory()
    client.force_login(admin)
    with eager_jobs():
        client.post(reverse("paraphrase-start"), {"splits": ["vqa-f/train"]})
    parent = Job.objects.filter(params__has_key="splits").get()
    chunks = list(Job.objects.filter(params__parent=parent.pk))
    assert len(chunks) == 2
    for page in (client.get(reverse("job-list")), client.get(reverse("home"))):
        text = page.content.decode()
        assert f"#{parent.pk}" in text and all(f"#{chunk.pk} " not in text for chunk in chunks)
    detail = client.get(reverse("job-detail", args=[chunks[0].pk])).content.decode()
    assert reverse("paraphrase-job", args=[parent.pk]) in detail
