"""The three backends behind one interface, with a tiny NLLB model built in the session (no download)."""

from __future__ import annotations

import random

import pytest

from pipeline.translation import backends
from pipeline.translation import languages as langs
from pipeline.translation.backends import base
from pipeline.translation.backends.ctranslate2 import converted_dir
from pipeline.translation.text import translate_texts

from ..fake_llm import FakeLLM
from .conftest import config
from .recording import Recording

TEXTS = [
    "What is the colour of the car?",
    "Two dogs are sitting next to a table.",
    "Describe the image briefly.",
    "Is the man holding a red sign near the window?",
    "A bird.",
    "Which animal is behind the building in the picture?",
    "Read the text on the sign.",
    "How many people are standing in the kitchen?",
]


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_a_shuffled_batch_comes_back_in_its_own_order(tiny_settings, backend):
    translator = backends.get_translator(config(backend))
    straight = translate_texts(translator, TEXTS, "fra_Latn").texts
    order = list(range(len(TEXTS)))
    random.Random(3).shuffle(order)
    shuffled = translate_texts(translator, [TEXTS[i] for i in order], "fra_Latn").texts
    assert shuffled == [straight[i] for i in order]
    assert len(set(straight)) > 1, "the tiny model should tell these texts apart"
    # one batch by hand, unsorted, agrees with the sorted, budgeted path
    assert translator.translate_batch([TEXTS[i] for i in order], "fra_Latn") == shuffled


def test_ctranslate2_is_converted_once_beside_the_model_by_hash_and_quantization(tiny_settings, nllb_dir):
    translator = backends.get_translator(config("ctranslate2"))
    assert translator.ct2_path == converted_dir(nllb_dir, "int8")
    assert translator.ct2_path.parent == nllb_dir.parent / f"{nllb_dir.name}.ctranslate2"
    stamp = (translator.ct2_path / "model.bin").stat().st_mtime_ns
    backends.clear_cache()
    again = backends.get_translator(config("ctranslate2"))
    assert (again.ct2_path / "model.bin").stat().st_mtime_ns == stamp  # found, not converted again
    float32 = backends.get_translator(config("ctranslate2", quantization="float32"))
    assert float32.ct2_path != translator.ct2_path and float32.ct2_path.name.endswith("-float32")


def test_ctranslate2_in_float32_gives_what_transformers_gives(tiny_settings):
    reference = backends.get_translator(config("transformers"))
    fast = backends.get_translator(config("ctranslate2", quantization="float32"))
    for text in TEXTS[:4]:  # one at a time: no padding differences
        assert fast.translate_batch([text], "vie_Latn") == reference.translate_batch([text], "vie_Latn")


def test_the_forced_target_language_is_used(tiny_settings):
    translator = backends.get_translator(config("transformers"))
    seen = []
    generate = translator.model.generate

    def spy(**kwargs):
        out = generate(**kwargs)
        seen.append((kwargs["forced_bos_token_id"], out[:, 1].tolist()))
        return out

    translator.model.generate = spy
    try:
        french = translator.translate_batch(TEXTS[:3], "fra_Latn")
        chinese = translator.translate_batch(TEXTS[:3], "zho_Hans")
    finally:
        translator.model.generate = generate
    fra, zho = (translator.tokenizer.convert_tokens_to_ids(code) for code in ("fra_Latn", "zho_Hans"))
    assert seen == [(fra, [fra] * 3), (zho, [zho] * 3)]
    assert french != chinese
    fast = backends.get_translator(config("ctranslate2"))
    assert fast.translate_batch(TEXTS[:3], "fra_Latn") != fast.translate_batch(TEXTS[:3], "zho_Hans")


def test_long_texts_are_split_at_sentences_and_rejoined(tiny_settings):
    translator = Recording(backends.get_translator(config("transformers")))
    long = " ".join(TEXTS)  # 8 sentences, about 70 tokens: over the limit of 20
    result = translate_texts(translator, [long, "Short one."], "fra_Latn", max_input_tokens=20)
    sent = translator.sent
    assert len(sent) > 2
    assert all(n <= 20 for n in translator.count_tokens(sent))
    assert " ".join(p for p in sent if p != "Short one.") != long  # pieces, not the whole
    pieces = [p for p in sent if p != "Short one."]
    assert sorted(" ".join(pieces).split()) == sorted(long.split())  # every word went, once
    expected = " ".join(translator.inner.translate_batch([p], "fra_Latn")[0] for p in _in_text_order(pieces, long))
    assert result.texts[0] == expected
    chinese = translate_texts(translator, [long], "zho_Hans", max_input_tokens=20).texts[0]
    assert chinese == "".join(
        translator.inner.translate_batch([p], "zho_Hans")[0] for p in _in_text_order(pieces, long)
    )


def _in_text_order(pieces, text):
    return sorted(pieces, key=text.index)


def test_options_newlines_numbers_and_placeholders_survive(tiny_settings):
    translator = Recording(backends.get_translator(config("transformers")))
    text = "Which colour is the car?\n(A) red\n(B) blue\n\nAnswer with {letter} for <image> 2.\n42"
    out = translate_texts(translator, [text, "", "   ", "3", "(C) 12.5"], "fra_Latn").texts
    lines = out[0].split("\n")
    assert len(lines) == 6 and lines[3] == "" and lines[5] == "42"
    assert lines[1].startswith("(A) ") and lines[2].startswith("(B) ")
    assert "{letter}" in lines[4] and "<image>" in lines[4]
    assert out[1:] == ["", "   ", "3", "(C) 12.5"]  # empty and number-only strings are never sent
    assert not any(s.strip() in {"", "3", "42", "12.5", "(A)", "{letter}"} for s in translator.sent)
    assert "red" in translator.sent and "blue" in translator.sent


def test_each_distinct_string_is_sent_once_and_a_known_one_not_at_all(tiny_settings):
    translator = Recording(backends.get_translator(config("transformers")))
    texts = ["Describe the image briefly."] * 50 + ["What is it?", "yes", "yes", "Describe the image briefly."]
    first = translate_texts(translator, texts, "fra_Latn")
    assert sorted(translator.sent) == sorted(["Describe the image briefly.", "What is it?", "yes"])
    assert first.stats.asked == 54 and first.stats.sent == 3
    translator.batches.clear()
    again = translate_texts(translator, texts, "fra_Latn", known=lambda units: first.new)
    assert translator.sent == [] and again.texts == first.texts and again.stats.cached == 3


def test_batches_are_sorted_by_length_within_the_token_budget(tiny_settings):
    translator = Recording(backends.get_translator(config("transformers")))
    translate_texts(translator, TEXTS, "fra_Latn", batch_tokens=40)
    sizes = [translator.count_tokens(batch) for _, batch in translator.batches]
    assert len(sizes) > 1
    assert all(max(s) * len(s) <= 40 for s in sizes)
    flat = [n for s in sizes for n in s]
    assert flat == sorted(flat, reverse=True)


def test_unknown_codes_missing_tokens_and_missing_models_are_refused(tiny_settings, plain_model_dir, db, tmp_path):
    with pytest.raises(langs.UnknownLanguage, match="xx, klingon"):
        langs.resolve(["fr", "xx", "klingon"])
    assert [lang.code for lang in langs.resolve(["vie_Latn", "fr"])] == ["fr", "vi"]
    translator = backends.get_translator(config("transformers"))
    with pytest.raises(base.MissingLanguageTokens, match="ita_Latn"):
        translator.check_languages(["fra_Latn", "ita_Latn"])
    with pytest.raises(base.MissingLanguageTokens, match="eng_Latn"):
        backends.get_translator(config("transformers", model=str(plain_model_dir))).check_languages(["fra_Latn"])
    with pytest.raises(base.ModelNotFound, match="does not exist"):
        backends.get_translator(config("ctranslate2", model=str(tmp_path / "nowhere" / "model")))
    with pytest.raises(base.ModelNotFound, match="neither a local folder nor in the Hugging Face cache"):
        base.resolve_model_dir("nobody-has/this-model-here")


def test_the_openai_backend_against_a_local_server(settings, db):
    with FakeLLM() as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = 0
        settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        translator = backends.get_translator(config("openai", model="fake-translator"))
        texts = ["What is it?\n(A) a cat\n(B) a dog", "What is it?\n(A) a cat\n(B) a dog", "Describe it."]
        out = translate_texts(translator, texts, "vie_Latn").texts
        assert out[0] == out[1] == "[vie_Latn] What is it?\n(A) [vie_Latn] a cat\n(B) [vie_Latn] a dog"
        assert out[2] == "[vie_Latn] Describe it."
        asked = sorted(hit.data["text"] for hit in server.hits)
        assert asked == ["Describe it.", "What is it?", "a cat", "a dog"]  # each distinct piece once
        assert {hit.data["target_language"] for hit in server.hits} == {"Vietnamese"}
        backends.clear_cache()
