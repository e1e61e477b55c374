"""FLORES English->X BLEU per language with the configured model; stores it and shows which pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from pipeline.translation import flores
from pipeline.translation import languages as langs
from pipeline.translation.backends import BackendConfig, get_translator
from pipeline.translation.errors import TranslationError


class Command(BaseCommand):
    help = (
        "Score English->X translation with sacrebleu BLEU over a FLORES-style folder (one sentence file per "
        "language code, plus eng_Latn), store the score on each language and show which pass TRANSLATION_MIN_BLEU."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--flores", required=True, type=Path, help="Folder with eng_Latn and <code> files.")
        parser.add_argument("--languages", nargs="*", help="Short or NLLB codes (default: all).")
        parser.add_argument("--backend", choices=["transformers", "ctranslate2", "openai"], default=None)
        parser.add_argument("--model", default=None)
        parser.add_argument("--limit", type=int, default=None, help="Only the first N sentences.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            languages = langs.resolve(options["languages"])
            source, references = flores.check_folder(options["flores"], languages, options["limit"])
            translator = get_translator(BackendConfig.from_settings(backend=options["backend"], model=options["model"]))
            bar = tqdm(total=len(languages), desc="score", file=getattr(self.stderr, "_out", None))
            scores = flores.score(translator, source, references, languages, on_language=lambda _: bar.update(1))
            bar.close()
        except TranslationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'code':6} {'BLEU':>6}  passes (> {settings.TRANSLATION_MIN_BLEU:g})")
        for s in scores:
            self.stdout.write(f"{s.code:6} {s.bleu:6.2f}  {'yes' if s.passes else 'no'}")
        kept = sum(1 for s in scores if s.passes)
        self.stdout.write(f"{kept} of {len(scores)} languages pass.")
