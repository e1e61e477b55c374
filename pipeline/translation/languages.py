"""The 80 target languages of M3IT-80 (paper Table 9) and the rules that apply to them.

The list seeds the Language table once (a data migration); from then on the table is the truth, so
adding a language is a row. `PAPER_LANGUAGES` is (short code, NLLB code, English name); the script
is the NLLB code's suffix and right-to-left follows from the script.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings

from .errors import UnknownLanguage

SOURCE_NLLB = "eng_Latn"
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm"})
# Scripts written without spaces between words: pieces of a split text are rejoined without one.
NO_SPACE_SCRIPTS = frozenset({"Hans", "Hant", "Jpan", "Thai", "Khmr", "Laoo", "Mymr", "Tibt"})

PAPER_LANGUAGES: tuple[tuple[str, str, str], ...] = (
    ("af", "afr_Latn", "Afrikaans"), ("am", "amh_Ethi", "Amharic"), ("ar", "arb_Arab", "Arabic"),
    ("as", "asm_Beng", "Assamese"), ("ast", "ast_Latn", "Asturian"), ("be", "bel_Cyrl", "Belarusian"),
    ("bg", "bul_Cyrl", "Bulgarian"), ("bn", "ben_Beng", "Bengali"), ("bs", "bos_Latn", "Bosnian"),
    ("ca", "cat_Latn", "Catalan"), ("ceb", "ceb_Latn", "Cebuano"), ("cs", "ces_Latn", "Czech"),
    ("cy", "cym_Latn", "Welsh"), ("da", "dan_Latn", "Danish"), ("de", "deu_Latn", "German"),
    ("el", "ell_Grek", "Greek"), ("es", "spa_Latn", "Spanish"), ("et", "est_Latn", "Estonian"),
    ("fi", "fin_Latn", "Finnish"), ("fr", "fra_Latn", "French"), ("fuv", "fuv_Latn", "Nigerian Fulfulde"),
    ("gl", "glg_Latn", "Galician"), ("gu", "guj_Gujr", "Gujarati"), ("ha", "hau_Latn", "Hausa"),
    ("he", "heb_Hebr", "Hebrew"), ("hi", "hin_Deva", "Hindi"), ("hr", "hrv_Latn", "Croatian"),
    ("hu", "hun_Latn", "Hungarian"), ("hy", "hye_Armn", "Armenian"), ("id", "ind_Latn", "Indonesian"),
    ("ig", "ibo_Latn", "Igbo"), ("is", "isl_Latn", "Icelandic"), ("it", "ita_Latn", "Italian"),
    ("ja", "jpn_Jpan", "Japanese"), ("jv", "jav_Latn", "Javanese"), ("ka", "kat_Geor", "Georgian"),
    ("kk", "kaz_Cyrl", "Kazakh"), ("km", "khm_Khmr", "Khmer"), ("kn", "kan_Knda", "Kannada"),
    ("ko", "kor_Hang", "Korean"), ("ky", "kir_Cyrl", "Kyrgyz"), ("lb", "ltz_Latn", "Luxembourgish"),
    ("lg", "lug_Latn", "Ganda"), ("lij", "lij_Latn", "Ligurian"), ("li", "lim_Latn", "Limburgish"),
    ("ln", "lin_Latn", "Lingala"), ("lo", "lao_Laoo", "Lao"), ("lt", "lit_Latn", "Lithuanian"),
    ("lv", "lvs_Latn", "Latvian"), ("mi", "mri_Latn", "Maori"), ("mk", "mkd_Cyrl", "Macedonian"),
    ("ml", "mal_Mlym", "Malayalam"), ("mr", "mar_Deva", "Marathi"), ("mt", "mlt_Latn", "Maltese"),
    ("my", "mya_Mymr", "Burmese"), ("nl", "nld_Latn", "Dutch"), ("ny", "nya_Latn", "Nyanja"),
    ("oc", "oci_Latn", "Occitan"), ("pa", "pan_Guru", "Punjabi"), ("pl", "pol_Latn", "Polish"),
    ("pt", "por_Latn", "Portuguese"), ("ro", "ron_Latn", "Romanian"), ("ru", "rus_Cyrl", "Russian"),
    ("sd", "snd_Arab", "Sindhi"), ("sk", "slk_Latn", "Slovak"), ("sn", "sna_Latn", "Shona"),
    ("so", "som_Latn", "Somali"), ("sr", "srp_Cyrl", "Serbian"), ("sv", "swe_Latn", "Swedish"),
    ("ta", "tam_Taml", "Tamil"), ("te", "tel_Telu", "Telugu"), ("tg", "tgk_Cyrl", "Tajik"),
    ("th", "tha_Thai", "Thai"), ("tl", "tgl_Latn", "Tagalog"), ("tr", "tur_Latn", "Turkish"),
    ("uk", "ukr_Cyrl", "Ukrainian"), ("ur", "urd_Arab", "Urdu"), ("vi", "vie_Latn", "Vietnamese"),
    ("wo", "wol_Latn", "Wolof"), ("zh", "zho_Hans", "Chinese (Simplified)"),
)  # fmt: skip

# The paper's translated tasks (Fig. 1, bold): the default of the tasks' `translated` flag.
PAPER_TASKS = ("okvqa", "imagenet", "winoground", "vqa-v2", "vist", "msrvtt", "msrvtt-qa")
EVAL_SPLITS = ("val", "test")  # the paper translates evaluation sets only
# Splits translated whole, whatever the per-split limit: all 800 Winoground test items (paper §3.2).
WHOLE_SPLITS = frozenset({("winoground", "test")})


def script_of(nllb_code: str) -> str:
    return nllb_code.rsplit("_", 1)[-1]


def is_rtl(nllb_code: str) -> bool:
    return script_of(nllb_code) in RTL_SCRIPTS


def seed_rows() -> list[dict[str, Any]]:
    """The Language rows the data migration creates."""
    return [
        {"code": code, "nllb_code": nllb, "name": name, "script": script_of(nllb), "rtl": is_rtl(nllb), "position": i}
        for i, (code, nllb, name) in enumerate(PAPER_LANGUAGES)
    ]


def passes(bleu: float | None, min_bleu: float | None = None) -> bool | None:
    """The paper's rule: keep a language whose English->X FLORES BLEU is above the threshold."""
    if bleu is None:
        return None
    return bleu > (settings.TRANSLATION_MIN_BLEU if min_bleu is None else min_bleu)


def resolve(codes: Iterable[str] | None) -> list[Any]:
    """Language rows for short or NLLB codes (None: every language), in table order.

    Raises UnknownLanguage naming every code that is not a row, before any work starts.
    """
    from pipeline.models import Language

    rows = list(Language.objects.all())
    if codes is None:
        return rows
    wanted = [c.strip() for c in codes if c and c.strip()]
    by_code = {row.code: row for row in rows} | {row.nllb_code: row for row in rows}
    if unknown := [c for c in wanted if c not in by_code]:
        raise UnknownLanguage(
            f"Unknown language code(s): {', '.join(unknown)}. Use the short codes of the Translation page "
            f"(e.g. fr, vi, zh) or NLLB codes (fra_Latn); a new language is a row in the Language table."
        )
    chosen = {by_code[c].pk for c in wanted}
    return [row for row in rows if row.pk in chosen]


def join_separator(nllb_code: str) -> str:
    """How pieces of one split text are put back together in the target language."""
    return "" if script_of(nllb_code) in NO_SPACE_SCRIPTS else " "
