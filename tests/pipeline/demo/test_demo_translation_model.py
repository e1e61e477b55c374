"""The demo's Stage IV: seed_demo writes a tiny NLLB-architecture model when TRANSLATION_MODEL names a missing
folder under var/, which the translation backends then load like a real one."""

from __future__ import annotations

import pytest

from pipeline.demo.seeding import demo_translation_model
from pipeline.translation.backends import clear_cache, get_translator
from pipeline.translation.languages import PAPER_LANGUAGES

pytestmark = pytest.mark.django_db


def test_a_missing_demo_model_under_var_is_written_once_and_translates(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TRANSLATION_MODEL = str(tmp_path / "models" / "demo-nllb")
    settings.TRANSLATION_BACKEND = "transformers"
    folder = demo_translation_model()
    assert folder is not None and (folder / "config.json").is_file()
    assert demo_translation_model() is None  # already there: left alone

    vocab = (folder / "tokenizer.json").read_text()
    assert all(f'"{nllb}"' in vocab for _, nllb, _ in PAPER_LANGUAGES)  # every language's token

    clear_cache()
    translator = get_translator()
    translator.check_languages(nllb for _, nllb, _ in PAPER_LANGUAGES)  # the language tokens a run needs
    texts = ["What shape is red?", "Describe the picture."]
    out = translator.translate_batch(texts, "vie_Latn")
    assert len(out) == 2 and all(isinstance(text, str) for text in out)
    clear_cache()


def test_a_model_outside_var_or_a_hub_name_is_never_written(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.TRANSLATION_MODEL = "facebook/nllb-200-distilled-1.3B"
    assert demo_translation_model() is None
    settings.TRANSLATION_MODEL = str(tmp_path / "elsewhere")
    assert demo_translation_model() is None and not (tmp_path / "elsewhere").exists()
