"""The training prompt (Ying-VLM's human/bot template, as training.data builds it) and the paper's
Chinese priming exchange (Appendix D). The answer is what the model writes after `<bot>: `, up to
the first newline."""

from __future__ import annotations

from training.data import BOT, HUMAN

# Appendix D, Table 10: one exchange before the real question, in the same format: the human asks
# (in Chinese) for an answer that follows the instruction and the image; the bot says "好的。" (OK).
CHINESE_PRIMING = f"{HUMAN}请根据下面的指令和图片进行回答。\n{BOT}好的。\n"


def build_prompt(instruction: str, inputs: str, chinese: bool = False) -> str:
    """The prompt text as training.data.prompt_ids writes it (before tokenising)."""
    prompt = f"{HUMAN}{instruction}\n{inputs}\n{BOT}"
    return CHINESE_PRIMING + prompt if chinese else prompt


def first_line(text: str) -> str:
    """The answer: generation stops being an answer at the first newline ("\\n is the end token").
    Newlines before any text are skipped (a model that starts with one has not answered yet)."""
    return text.lstrip("\n").split("\n", 1)[0].strip()
