"""The interface in English and Simplified Chinese: the browser's language first, then the person's own
choice, kept on the user; job messages written by workers in English, read in the reader's language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import UserSettings
from pipeline.jobs.runner import Progress, start_job
from pipeline.models import Job, JobKind
from tests.factories import AdminFactory, AnnotatorFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


def test_a_first_visit_follows_the_browsers_language():
    chinese = Client(**ZH).get(reverse("login")).content.decode()
    english = Client(**EN).get(reverse("login")).content.decode()
    assert '<html lang="zh-hans">' in chinese and "登录 M3IT Studio" in chinese and "用户名" in chinese
    assert '<html lang="en">' in english and "Log in to M3IT Studio" in english and "登录" not in english


def test_the_switcher_keeps_the_choice_on_the_user_across_logout_and_another_browser():
    user = AnnotatorFactory()
    browser = Client(**EN)
    browser.force_login(user)
    assert "Instruction statistics" in browser.get(reverse("instruction-stats")).content.decode()

    response = browser.post(reverse("set-language"), {"language": "zh-hans", "next": reverse("instruction-stats")})
    assert response.status_code == 302 and response["Location"] == reverse("instruction-stats")
    assert UserSettings.objects.get(user=user).language == "zh-hans"
    page = browser.get(reverse("instruction-stats")).content.decode()
    assert "指令统计" in page and "Instruction statistics" not in page

    browser.post(reverse("logout"))
    elsewhere = Client(**EN)  # another browser: no cookie, an English Accept-Language
    response = elsewhere.post(reverse("login"), {"username": user.username, "password": "pw-for-tests"})
    assert response.status_code == 302  # logged in through the login form, as a person does
    page = elsewhere.get(reverse("instruction-stats")).content.decode()
    assert "指令统计" in page
    assert "中文和日文任务不用空格分词，按字符计" in page  # how Chinese instructions are counted, in Chinese


def test_an_unknown_language_is_refused_and_nothing_is_stored():
    user = AnnotatorFactory()
    browser = Client()
    browser.force_login(user)
    response = browser.post(reverse("set-language"), {"language": "xx-evil", "next": "/"})
    assert response.status_code == 400
    assert not UserSettings.objects.filter(user=user).exists()


def test_an_anonymous_choice_lives_in_the_cookie_only():
    browser = Client(**EN)
    browser.post(reverse("set-language"), {"language": "zh-hans", "next": reverse("login")})
    assert UserSettings.objects.count() == 0
    assert "登录 M3IT Studio" in browser.get(reverse("login")).content.decode()


def test_navigation_and_choice_labels_follow_the_language():
    admin = AdminFactory()
    UserSettings.objects.create(user=admin, language="zh-hans")
    browser = Client(**EN)
    browser.force_login(admin)
    session = browser.session
    session["interface_language"] = "zh-hans"
    session.save()
    page = browser.get(reverse("task-list")).content.decode()
    assert "M3IT 任务" in page and ">任务<" in page and ">作业<" in page  # heading and navigation
    assert "Log out" not in page and "退出登录" in page


def test_a_job_message_written_in_english_reads_in_the_readers_language():
    admin = AdminFactory()
    job = Job.objects.create(kind=JobKind.DEMO, task_name="pipeline.demo.tasks.build_demo_dataset", created_by=admin)
    # What the demo worker writes: an English msgid and its arguments.
    Progress(job).update(
        message="Drawing %(count)s demo samples for %(task)s/%(split)s",
        message_args={"count": 12, "task": "shapes", "split": "train"},
        force=True,
    )
    job.refresh_from_db()
    assert job.message == "Drawing %(count)s demo samples for %(task)s/%(split)s"

    english, chinese = Client(**EN), Client(**EN)
    english.force_login(admin)
    chinese.force_login(admin)
    chinese.post(reverse("set-language"), {"language": "zh-hans", "next": "/"})
    url = reverse("api-job-detail", args=[job.pk])
    assert english.get(url).json()["message"] == "Drawing 12 demo samples for shapes/train"
    assert chinese.get(url).json()["message"] == "正在为 shapes/train 绘制 12 个演示样本"
    page = chinese.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "正在为 shapes/train 绘制 12 个演示样本" in page


def test_a_plain_message_without_arguments_is_translated_too(django_capture_on_commit_callbacks):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=False):
        job = start_job(JobKind.DEMO, "pipeline.demo.tasks.build_demo_dataset", user=admin)
    assert job.message == "Queued."  # start_job's default, stored in English
    browser = Client(**ZH)
    browser.force_login(admin)
    assert browser.get(reverse("api-job-detail", args=[job.pk])).json()["message"] == "排队中。"


def test_the_javascript_catalogue_carries_the_status_words():
    body = Client(**ZH).get(reverse("javascript-catalog")).content.decode()
    assert "\\u5df2\\u6210\\u529f" in body or "已成功" in body  # "succeeded"
