"""The Chinese catalogue is complete, compiled, and the translated templates hold no bare English."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))

# Templates already fully marked for translation; the scan below keeps them so. The others are being
# marked page by page (README, "Interface languages").
TRANSLATED_TEMPLATES = [
    "base.html",
    "registration/login.html",
    "annotator/task_list.html",
    "annotator/instruction_stats.html",
    "annotator/_mean_sd.html",
    "pipeline/jobs/_progress.html",
    "pipeline/jobs/list.html",
    "pipeline/export/list.html",
    "pipeline/export/detail.html",
    "pipeline/samples/list.html",
    "qc/dashboard.html",
    "qc/reviewers.html",
    "qc/split_history.html",
    "qc/returned.html",
    "qc/_event.html",
]
ALLOWED_LITERALS = {"M3IT Studio", "M3IT", "manifest.json", "sha256"}  # the product's name, file and hash names


def test_there_is_a_chinese_catalogue_for_the_server_and_for_javascript():
    names = {(p.parent.parent.name, p.stem) for p in CATALOGUES}
    assert {("zh_Hans", "django"), ("zh_Hans", "djangojs")} <= names


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_entry_is_translated_and_none_is_fuzzy(path: Path):
    catalogue = polib.pofile(str(path))
    untranslated = [e.msgid for e in catalogue if not e.obsolete and not e.translated()]
    fuzzy = [e.msgid for e in catalogue if "fuzzy" in e.flags]
    assert untranslated == [] and fuzzy == [], f"{path.name}: untranslated {untranslated}, fuzzy {fuzzy}"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_committed_mo_file_is_compiled_from_the_po_file(path: Path, tmp_path: Path):
    """The .mo files are committed (so `make run` needs no GNU gettext); this keeps them current."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        message = "GNU gettext's msgfmt is not installed (Debian: apt-get install gettext)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    fresh = tmp_path / "fresh.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(path)], check=True)
    committed = path.with_suffix(".mo")
    assert committed.exists(), f"{committed} is missing: run manage.py compilemessages"
    with fresh.open("rb") as a, committed.open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            f"{committed.name} is stale: run manage.py compilemessages"
        )


def bare_english(template: str) -> list[str]:
    """Runs of English words in a template's text or its aria-label/title/placeholder attributes that are not
    inside {% translate %}/{% blocktranslate %}, a template variable or a tag."""
    text = re.sub(r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}", " ", template, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", text, flags=re.S)  # code and paths stay as written
    text = re.sub(r"{[{%].*?[}%]}", " ", text, flags=re.S)
    found = []
    for attribute in re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', text):
        found += _words(attribute)
    return found + _words(re.sub(r"<[^>]*>", " ", text))


def _words(text: str) -> list[str]:
    runs = [m.group(0).strip() for m in re.finditer(r"[A-Za-z0-9][A-Za-z0-9'’,.;: ()-]*[A-Za-z0-9.]", text)]
    return [r for r in runs if r not in ALLOWED_LITERALS and re.search(r"[a-z]{2}", r)]


@pytest.mark.parametrize("name", TRANSLATED_TEMPLATES)
def test_translated_templates_hold_no_bare_english(name: str):
    assert bare_english((ROOT / "templates" / name).read_text()) == []


def test_the_scan_finds_bare_english():
    assert bare_english('<p title="Open it">{% translate "Fine" %} Not marked {{ x }}</p>') == ["Open it", "Not marked"]
    assert bare_english("{% blocktranslate %}Marked {{ n }} times{% endblocktranslate %}") == []
