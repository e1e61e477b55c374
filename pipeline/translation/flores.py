"""English->X BLEU over a FLORES-style folder (one sentence file per language code), with sacrebleu.

The folder holds `eng_Latn` (or `en`) and one file per target language, named by its NLLB code or
its short code, optionally with a `.devtest`/`.dev`/`.txt` suffix; line i of every file is the same
sentence. Missing or misaligned files are reported together, before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from .errors import TranslationError
from .languages import SOURCE_NLLB

SUFFIXES = ("", ".devtest", ".dev", ".txt")


@dataclass
class Score:
    code: str
    bleu: float
    sentences: int
    passes: bool | None


def _find(folder: Path, names: list[str]) -> Path | None:
    for name in names:
        for suffix in SUFFIXES:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def check_folder(
    folder: Path, languages: list[Any], limit: int | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """The English sentences and each language's references; TranslationError listing every problem."""
    if not folder.is_dir():
        raise TranslationError(f"{folder} is not a folder.")
    source_path = _find(folder, [SOURCE_NLLB, "en", "eng"])
    if source_path is None:
        raise TranslationError(f"{folder} has no English file (eng_Latn or en).")
    source = read_lines(source_path)
    problems, references = [], {}
    for lang in languages:
        path = _find(folder, [lang.nllb_code, lang.code])
        if path is None:
            problems.append(f"{lang.code}: no file {lang.nllb_code} or {lang.code}")
            continue
        lines = read_lines(path)
        if len(lines) != len(source):
            problems.append(f"{lang.code}: {len(lines)} lines, English has {len(source)} (misaligned)")
            continue
        references[lang.code] = lines
    if problems:
        raise TranslationError(f"FLORES folder {folder}: " + "; ".join(problems) + ". Nothing was scored.")
    if limit:
        source = source[:limit]
        references = {code: lines[:limit] for code, lines in references.items()}
    return source, references


def score(
    translator: Any, source: list[str], references: dict[str, list[str]], languages: list[Any], on_language: Any = None
) -> list[Score]:
    """Translate the English sentences into each language and store its BLEU on the Language row."""
    import sacrebleu

    from .text import translate_texts

    translator.check_languages([lang.nllb_code for lang in languages])
    out = []
    for lang in languages:
        hypotheses = translate_texts(translator, source, lang.nllb_code).texts
        tokenize = {"Hans": "zh", "Hant": "zh", "Jpan": "ja-mecab", "Hang": "ko-mecab"}.get(lang.script, "13a")
        try:
            bleu = sacrebleu.corpus_bleu(hypotheses, [references[lang.code]], tokenize=tokenize).score
        except Exception:  # an optional tokenizer (MeCab) missing: the default one
            bleu = sacrebleu.corpus_bleu(hypotheses, [references[lang.code]]).score
        lang.flores_bleu = round(bleu, 2)
        lang.flores_model = translator.model_id
        lang.flores_scored_at = timezone.now()
        lang.save(update_fields=["flores_bleu", "flores_model", "flores_scored_at"])
        out.append(Score(lang.code, lang.flores_bleu, len(source), lang.passes))
        if on_language:
            on_language(lang)
    return out
