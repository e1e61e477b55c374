"""The training prompt (Ying-VLM's human/bot template) and the paper's Chinese priming (Appendix D).

Training must build its inputs with the same `build_prompt`, or the evaluation asks a question the
model never saw. The answer is the text generated after `<bot>:` up to the first newline.
"""

from __future__ import annotations

TEMPLATE = "\n<human>:\n{instruction}\n{inputs}\n<bot>:\n"

# Appendix D, Table 10: one exchange before the real question, in the same format: the human asks
# (in Chinese) for an answer that follows the instruction and the image; the bot says "好的。" (OK).
CHINESE_PRIMING = "\n<human>:\n请根据下面的指令和图片进行回答。\n<bot>:\n好的。"


def build_prompt(instruction: str, inputs: str, chinese: bool = False) -> str:
    prompt = TEMPLATE.format(instruction=instruction.strip(), inputs=inputs.strip())
    return CHINESE_PRIMING + prompt if chinese else prompt


def first_line(text: str) -> str:
    """The answer: generation stops being an answer at the first newline ("\\n is the end token")."""
    return text.lstrip("\n").split("\n", 1)[0].strip()
