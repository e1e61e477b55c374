"""Stage IV pages: languages, tasks marked for translation, plan, start/cancel/resume, results beside English.

Admins run translation; a task's reviewer (and admins) browse its results and mark a (task, language)
unusable. Model output is untrusted text: shown through autoescaping only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from annotator import roles
from annotator.models import Task
from annotator.permissions import AdminRequiredMixin
from pipeline.jobs.access import visible_jobs
from pipeline.jobs.runner import request_cancel

from ..models import Job, JobKind, Language, Translation, TranslationSelection, TranslationUnusable
from . import plan as plans
from . import runner
from .backends.base import BackendConfig
from .errors import TranslationError


def translation_jobs(user: Any) -> QuerySet[Job]:
    """Parent translation jobs (not chunks, not calibrations) this user may see."""
    return (
        visible_jobs(user)
        .filter(kind=JobKind.TRANSLATE)
        .exclude(params__has_key="parent")
        .exclude(params__has_key="calibrate")
    )


def reviewable_tasks(user: Any) -> QuerySet[Task]:
    """Tasks whose translations this user may browse and judge: all for admins, their own for reviewers."""
    if roles.is_admin(user):
        return Task.objects.all()
    if not user.is_authenticated:
        return Task.objects.none()
    return Task.objects.filter(reviewer=user)


def _codes(raw: str) -> list[str] | None:
    codes = [c for c in raw.replace(",", " ").split() if c]
    return codes or None


class TranslationView(AdminRequiredMixin, View):
    """The Translation page: languages, tasks, plan (GET ?plan=1) and start (POST)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        chosen = request.GET.getlist("tasks")
        codes = request.GET.get("languages", "")
        plan, error = None, ""
        if request.GET.get("plan"):
            try:
                plan = plans.build_plan(chosen or None, _codes(codes))
            except TranslationError as exc:
                error = str(exc)
        return self._render(request, chosen, codes, plan, error)

    def post(self, request: HttpRequest) -> HttpResponse:
        chosen = request.POST.getlist("tasks")
        codes = request.POST.get("languages", "")
        try:
            job = runner.start_translation(request.user, chosen or None, _codes(codes))
        except TranslationError as exc:
            return self._render(request, chosen, codes, None, str(exc), status=400)
        messages.success(request, f"Translation started as job #{job.pk}.")
        return redirect("translation-job", pk=job.pk)

    def _render(
        self, request: HttpRequest, chosen: list[str], codes: str, plan: Any, error: str, status: int = 200
    ) -> HttpResponse:
        config = BackendConfig.from_settings()
        context = {
            "languages": Language.objects.all(),
            "tasks": Task.objects.order_by("-translated", "slug"),
            "chosen": set(chosen),
            "codes": codes,
            "plan": plan,
            "error": error,
            "config": config,
            "calibration": plans.latest_calibration(config.backend, config.model),
            "jobs": translation_jobs(request.user)[:10],
            "selections": TranslationSelection.objects.select_related("task"),
        }
        return render(request, "pipeline/translation/index.html", context, status=status)


class TaskFlagView(AdminRequiredMixin, View):
    """Mark a task for translation, or unmark it."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        task = get_object_or_404(Task, slug=slug)
        task.translated = request.POST.get("translated") == "1"
        task.save(update_fields=["translated", "updated_at"])
        messages.info(request, f"{task.slug} is {'now' if task.translated else 'no longer'} marked for translation.")
        return redirect("translation")


class CalibrateView(AdminRequiredMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        job = runner.start_calibration(
            request.user,
            request.POST.getlist("tasks") or None,
            language_codes=_codes(request.POST.get("languages", "")),
        )
        messages.info(request, f"Calibration queued as job #{job.pk}; plan again when it has finished.")
        return redirect("translation")


class TranslationJobView(AdminRequiredMixin, View):
    """One run: a live bar per language (from the job's counters), cancel, resume."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(translation_jobs(request.user), pk=pk)
        languages = {lang.code: lang for lang in Language.objects.filter(code__in=job.params.get("languages", []))}
        bars = [
            {"code": code, "language": languages.get(code), "done": done, "total": total}
            for code, (done, total) in sorted((job.counters or {}).get("languages", {}).items())
        ]
        context = {"job": job, "bars": bars, "tasks": job.params.get("tasks", [])}
        return render(request, "pipeline/translation/job.html", context)


class TranslationCancelView(AdminRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(translation_jobs(request.user), pk=pk)
        request_cancel(job)
        for chunk in runner.chunks_of(job).filter(status="queued"):
            request_cancel(chunk)
        messages.info(request, f"Cancel requested: job #{job.pk} stops after the chunks already running.")
        return redirect("translation-job", pk=job.pk)


class TranslationResumeView(AdminRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(translation_jobs(request.user), pk=pk)
        try:
            new = runner.resume_translation(job, request.user)
        except TranslationError as exc:
            messages.error(request, str(exc))
            return redirect("translation-job", pk=job.pk)
        messages.success(request, f"Resumed as job #{new.pk}: what #{job.pk} translated is kept.")
        return redirect("translation-job", pk=new.pk)


class ResultsIndexView(View):
    """Tasks with translations, per language: counts and unusable marks (admins, and reviewers: their tasks)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request)
        if not roles.is_admin(request.user) and not roles.is_reviewer(request.user):
            raise Http404
        tasks = list(reviewable_tasks(request.user).filter(translation_selections__isnull=False).distinct())
        counts: dict[tuple[int, str], int] = {}
        for row in (
            Translation.objects.filter(sample__task__in=tasks)
            .values("sample__task_id", "language__code")
            .annotate(n=Count("id"))
        ):
            counts[(row["sample__task_id"], row["language__code"])] = row["n"]
        unusable = {(u.task_id, u.language.code): u for u in TranslationUnusable.objects.select_related("language")}
        rows = []
        for task in tasks:
            cells = []
            for lang in Language.objects.all():
                n = counts.get((task.pk, lang.code), 0)
                if n:
                    cells.append({"language": lang, "count": n, "unusable": unusable.get((task.pk, lang.code))})
            rows.append({"task": task, "cells": cells})
        return render(request, "pipeline/translation/results_index.html", {"rows": rows})


def redirect_to_login(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth.views import redirect_to_login as to_login

    return to_login(request.get_full_path())


class ResultsView(View):
    """One task in one language, sample by sample beside the English source; the unusable mark."""

    def get(self, request: HttpRequest, slug: str, code: str) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request)
        task = get_object_or_404(reviewable_tasks(request.user), slug=slug)
        language = get_object_or_404(Language, code=code)
        rows = (
            Translation.objects.filter(sample__task=task, language=language)
            .select_related("sample__instruction")
            .order_by("sample__split", "sample_id")
        )
        page = Paginator(rows, 25).get_page(request.GET.get("page"))
        context = {
            "task": task,
            "language": language,
            "page": page,
            "unusable": TranslationUnusable.objects.filter(task=task, language=language).first(),
            "languages": Language.objects.filter(translations__sample__task=task).distinct(),
        }
        return render(request, "pipeline/translation/results.html", context)


class UnusableView(View):
    """POST note (mark unusable) or clear=1 (usable again); the task's reviewer or an admin."""

    def post(self, request: HttpRequest, slug: str, code: str) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request)
        task = get_object_or_404(reviewable_tasks(request.user), slug=slug)
        language = get_object_or_404(Language, code=code)
        if request.POST.get("clear"):
            TranslationUnusable.objects.filter(task=task, language=language).delete()
            messages.info(request, f"{task.slug} in {language.name} is usable again.")
        else:
            note = request.POST.get("note", "").strip()
            if not note:
                messages.error(request, "Say why it is unusable: the note is required.")
                return redirect("translation-results", slug=task.slug, code=language.code)
            TranslationUnusable.objects.update_or_create(
                task=task, language=language, defaults={"note": note, "marked_by": request.user}
            )
            messages.success(request, f"{task.slug} in {language.name} is marked unusable: left out of exports.")
        return redirect("translation-results", slug=task.slug, code=language.code)
