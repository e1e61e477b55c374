"""manage.py score_languages and manage.py translate with the tiny model."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from pipeline.models import Language, Translation

from .data import translated_task

pytestmark = pytest.mark.django_db(transaction=True)

EN = ["The cat sits on the table.", "Two dogs run in the park.", "What is the colour of the car?"]


def _flores(tmp_path, **files):
    folder = tmp_path / "flores"
    folder.mkdir()
    (folder / "eng_Latn.devtest").write_text("\n".join(EN) + "\n")
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def test_score_languages_stores_bleu_and_shows_who_passes(tiny_settings, tmp_path):
    folder = _flores(tmp_path, **{"fra_Latn.devtest": ["Le chat.", "Deux chiens.", "Quelle couleur ?"], "vi": EN})
    tiny_settings.TRANSLATION_MIN_BLEU = -1.0  # random weights score ~0: everything "passes" a negative bar
    out = io.StringIO()
    call_command(
        "score_languages", "--flores", str(folder), "--languages", "fr", "vi", stdout=out, stderr=io.StringIO()
    )
    fr, vi = Language.objects.get(code="fr"), Language.objects.get(code="vi")
    assert (
        fr.flores_bleu is not None
        and vi.flores_bleu is not None
        and fr.flores_model == str(tiny_settings.TRANSLATION_MODEL)
    )
    assert "2 of 2 languages pass" in out.getvalue()
    assert Language.objects.filter(flores_bleu__isnull=False).count() == 2


def test_score_languages_refuses_missing_and_misaligned_files_before_any_work(tiny_settings, tmp_path):
    folder = _flores(tmp_path, **{"fra_Latn": ["one line only"]})
    with pytest.raises(CommandError, match=r"fr: 1 lines, English has 3 \(misaligned\); vi: no file"):
        call_command("score_languages", "--flores", str(folder), "--languages", "fr", "vi")
    with pytest.raises(CommandError, match="Unknown language code"):
        call_command("score_languages", "--flores", str(folder), "--languages", "qq")
    assert not Language.objects.filter(flores_bleu__isnull=False).exists()


def test_translate_command_plans_and_runs_inline(tiny_settings):
    translated_task()
    out = io.StringIO()
    call_command("translate", "--languages", "fr", "--plan-only", stdout=out)
    assert "9 samples x 1 languages" in out.getvalue() and not Translation.objects.exists()
    call_command("translate", "--languages", "fr", "--inline", "--calibrate", stdout=out, stderr=io.StringIO())
    assert "pieces/s" in out.getvalue() and "succeeded" in out.getvalue()
    assert Translation.objects.count() == 9
    with pytest.raises(CommandError, match="Unknown language code"):
        call_command("translate", "--languages", "fr", "xx")
