"""A tiny NLLB-architecture model (M2M100) with a tokenizer trained here, built once per test session,
and helpers to make tasks with evaluation samples to translate."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.translation import backends, random_model

LANGS = ["fra_Latn", "vie_Latn", "arb_Arab", "zho_Hans", "deu_Latn"]


def ensure_languages() -> None:
    """The 80 languages of the data migration (a transactional test's flush removes them)."""
    from pipeline.models import Language
    from pipeline.translation.languages import seed_rows

    if not Language.objects.exists():
        Language.objects.bulk_create([Language(**row) for row in seed_rows()])


@pytest.fixture(autouse=True)
def _languages(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("django_db") or "db" in request.fixturenames:
        request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
        ensure_languages()


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder; TRANSLATION_MODEL=<it> loads it like the real weights."""
    return random_model.build(tmp_path_factory.mktemp("nllb") / "tiny-nllb", LANGS, init_std=1.0)


@pytest.fixture(scope="session")
def plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same architecture with an ordinary tokenizer: no NLLB language tokens."""
    return random_model.build(tmp_path_factory.mktemp("plain") / "plain", [], with_language_tokens=False)


@pytest.fixture
def tiny_settings(settings, nllb_dir):
    """Settings for the tiny model: greedy, short outputs, a small sentence limit, CPU."""
    settings.TRANSLATION_MODEL = str(nllb_dir)
    settings.TRANSLATION_BACKEND = "transformers"
    settings.TRANSLATION_BEAM_SIZE = 1
    settings.TRANSLATION_DEVICE = "cpu"
    settings.TRANSLATION_THREADS = 1
    settings.TRANSLATION_MAX_INPUT_TOKENS = 40
    settings.TRANSLATION_CHUNK_SIZE = 4
    settings.TRANSLATION_SAMPLES_PER_SPLIT = 6
    yield settings
    backends.clear_cache()


def config(backend: str = "transformers", **overrides):
    return backends.BackendConfig.from_settings(backend=backend, max_new_tokens=12, **overrides)
