"""Judgement tasks: e-SNLI-VE (entailment), MOCHEG (claim verdicts), KonIQ-10k (image quality), Winoground."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any

from pipeline.imports.adapters.base import (
    IMAGE_SUFFIXES,
    Adapter,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    Location,
    OptionSpec,
    Rejected,
    Row,
    SourceFiles,
    Target,
    csv_rows,
    index_by_stem,
    jsonl_lines,
    keyed_index,
    lettered_answer,
    require,
)
from pipeline.imports.adapters.common import split_name, with_options

SNLI_LABELS = ("entailment", "neutral", "contradiction")


class SNLIVEAdapter(Adapter):
    """e-SNLI-VE (Kayser et al., e-ViL, ICCV 2021; github maximek3/e-ViL `data/esnlive_<train|dev|test>.csv`):
    one row per image-hypothesis pair with `Flickr30kID` (the Flickr30k file name), `hypothesis`,
    `gold_label` and `explanation` (some releases add `pairID`). The output is the label word."""

    name = "snli-ve"
    label = "e-SNLI-VE (Flickr30k image + hypothesis)"
    description = (
        "esnlive_<train|dev|test>.csv (Flickr30kID, hypothesis, gold_label, explanation) with the Flickr30k images "
        "folder. Output: entailment, neutral or contradiction; the explanation is kept in meta."
    )
    files = (
        FileSpec("pairs", "csv", "esnlive_train.csv", "esnlive_<train|dev|test>.csv"),
        FileSpec("images", "folder", "flickr30k_images", "the Flickr30k images (<Flickr30kID>)"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("pairs")
        images = index_by_stem(source.folder("images"), IMAGE_SUFFIXES)
        for line, row in csv_rows(source.file("pairs"), label, source):
            where = Location(label, line)
            source_id = (row.get("pairID") or row.get("") or f"{row.get('Flickr30kID', '')}-{line}").strip()
            if problem := require(row, ("Flickr30kID", "hypothesis", "gold_label")):
                yield Rejected(where, problem, source_id)
                continue
            gold = row["gold_label"].strip().lower()
            relative = images.get(row["Flickr30kID"].strip().rsplit(".", 1)[0])
            problem = None if gold in SNLI_LABELS else f"gold_label {gold!r} is not {', '.join(SNLI_LABELS)}"
            if relative is None:
                problem = f"no image file for Flickr30kID {row['Flickr30kID']}"
            if problem:
                yield Rejected(where, problem, source_id)
                continue
            yield Draft(
                source_id=source_id,
                media=[ImageFile(source.under("images", relative))],
                inputs=row["hypothesis"].strip(),
                output=gold,
                meta={
                    "source_dataset": "e-snli-ve",
                    "flickr30k_id": row["Flickr30kID"].strip(),
                    "explanation": (row.get("explanation") or "").strip(),
                },
                where=where,
            )


MOCHEG_LABELS = {"supported": "supported", "refuted": "refuted", "nei": "NEI"}


class MochegAdapter(Adapter):
    """MOCHEG (Yao et al., SIGIR 2023; github VT-NLP/Mocheg), per split folder: `Corpus2.csv` (one row per
    claim x text evidence: `claim_id`, `Claim`, `cleaned_truthfulness` supported/refuted/NEI, `Evidence`),
    `img_evidence_qrels.csv` (TREC qrels: `TOPIC` = claim id, `DOCUMENT#` = image file, `RELEVANCY`) and
    `images/`. One sample per claim: the claim as inputs, its evidence images in qrels order, the verdict."""

    name = "mocheg"
    label = "MOCHEG (claim + evidence images → verdict)"
    description = (
        "Corpus2.csv (rows of one claim are consecutive) and img_evidence_qrels.csv with the images folder of one "
        "split. One sample per claim with its evidence images; output supported, refuted or NEI."
    )
    files = (
        FileSpec("corpus", "csv", "Corpus2.csv", "claims with their text evidence"),
        FileSpec("qrels", "csv", "img_evidence_qrels.csv", "claim id (TOPIC) → evidence image (DOCUMENT#)"),
        FileSpec("images", "folder", "images", "the evidence images"),
    )
    options = (
        OptionSpec("max_images", 4, "evidence images kept per claim, in qrels order", "int"),
        OptionSpec("text_evidence", False, "true: add the text evidence to the inputs after the claim", "bool"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        if options["max_images"] < 1:
            raise ImportInputError("max_images must be at least 1")
        label = source.name("corpus")
        qrels = (
            (row["TOPIC"].strip(), row["DOCUMENT#"].strip())
            for _line, row in csv_rows(source.file("qrels"), source.name("qrels"))
            if (row.get("TOPIC") or "").strip()
            and (row.get("DOCUMENT#") or "").strip()
            and (row.get("RELEVANCY") or "1").strip() != "0"
        )
        with keyed_index(qrels) as evidence:
            rows = csv_rows(source.file("corpus"), label, source)
            for claim_id, group in groupby(rows, key=lambda item: (item[1].get("claim_id") or "").strip()):
                lines = list(group)
                where, first = Location(label, lines[0][0]), lines[0][1]
                if problem := require(first, ("claim_id", "Claim", "cleaned_truthfulness")):
                    yield Rejected(where, problem, claim_id)
                    continue
                verdict = MOCHEG_LABELS.get(first["cleaned_truthfulness"].strip().lower())
                images = list(dict.fromkeys(evidence.get(claim_id)))[: options["max_images"]]
                if verdict is None or not images:
                    problem = "no evidence image in the qrels" if verdict else "verdict is not supported/refuted/NEI"
                    yield Rejected(where, f"claim {claim_id}: {problem}", claim_id)
                    continue
                texts = [t for t in dict.fromkeys((r.get("Evidence") or "").strip() for _l, r in lines) if t]
                inputs = f"Claim: {first['Claim'].strip()}"
                if options["text_evidence"] and texts:
                    inputs += "\nEvidence: " + " ".join(texts)
                yield Draft(
                    source_id=claim_id,
                    media=[ImageFile(source.under("images", name)) for name in images],
                    inputs=inputs,
                    output=verdict,
                    meta={
                        "source_dataset": "mocheg",
                        "claim_id": claim_id,
                        "evidence_images": images,
                        "text_evidence": texts,
                        "snopes_url": first.get("Snopes URL"),
                    },
                    where=where,
                )


IQA_LEVELS = ("bad", "poor", "fair", "good", "excellent")
KONIQ_SETS = {"train": "training", "val": "validation", "test": "test"}


class KonIQAdapter(Adapter):
    """KonIQ-10k (Hosu et al., TIP 2020): `koniq10k_distributions_sets.csv` with `image_name`, the vote counts
    `c1`..`c5`, `MOS` on the 1-5 absolute category scale, `SD` and `set` (training/validation/test); images in
    `1024x768/`. The MOS, rounded, names one of five lettered quality levels (bad … excellent)."""

    name = "koniq-iqa"
    label = "KonIQ-10k image quality"
    description = (
        "koniq10k_distributions_sets.csv (image_name, MOS on 1-5, set) with the 1024x768 images folder. Output: "
        "the lettered quality level of the rounded MOS; the split is read from the set column."
    )
    files = (
        FileSpec("scores", "csv", "koniq10k_distributions_sets.csv", "scores with the set column"),
        FileSpec("images", "folder", "1024x768", "the KonIQ images"),
    )
    options = (
        OptionSpec("question", "How is the quality of this image?", "the question before the options"),
        OptionSpec("source_split", "", "value of the set column to read; empty: by target split"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("scores")
        wanted = split_name(target, KONIQ_SETS, options["source_split"])
        choices = list(IQA_LEVELS)
        for line, row in csv_rows(source.file("scores"), label, source):
            where = Location(label, line)
            name = (row.get("image_name") or "").strip()
            if problem := require(row, ("image_name", "MOS")):
                yield Rejected(where, problem, name)
                continue
            if (row.get("set") or wanted).strip() != wanted:
                continue
            try:
                mos = float(row["MOS"])
            except ValueError:
                mos = -1.0
            if not 1.0 <= mos <= 5.0:
                yield Rejected(where, f"MOS {row['MOS']!r} is not a number between 1 and 5", name)
                continue
            level = min(int(mos + 0.5), 5) - 1
            yield Draft(
                source_id=name,
                media=[ImageFile(source.under("images", name))],
                inputs=with_options(options["question"], choices),
                output=lettered_answer(choices, level),
                meta={"source_dataset": "koniq-10k", "image_name": name, "mos": mos, "sd": row.get("SD")},
                where=where,
            )


class WinogroundAdapter(Adapter):
    """Winoground (Thrush et al., CVPR 2022; HF facebook/winoground `data/examples.jsonl`): per line `id`,
    `caption_0`, `caption_1`, `image_0`, `image_1` (names of `images/<name>.png`), `tag`, `collapsed_tag`.
    Two samples per example (800 for 400, as M3IT): mode "image" shows one image and asks which caption
    fits; mode "caption" shows both images in order and asks which one the caption describes."""

    name = "winoground"
    label = "Winoground (two images x two captions)"
    description = (
        "examples.jsonl with the images folder. Two samples per example: each image with both captions as "
        "options (mode image) or each caption with both images (mode caption)."
    )
    files = (
        FileSpec("examples", "jsonl", "examples.jsonl", "data/examples.jsonl"),
        FileSpec("images", "folder", "images", "the images (ex_<id>_img_<n>.png)"),
    )
    options = (OptionSpec("mode", "image", '"image" (pick the caption) or "caption" (pick the image)'),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        mode = options["mode"]
        if mode not in ("image", "caption"):
            raise ImportInputError('mode must be "image" or "caption"')
        label = source.name("examples")
        images = index_by_stem(source.folder("images"), IMAGE_SUFFIXES)
        for number, record, error in jsonl_lines(source.file("examples"), label, source):
            where = Location(label, number)
            if error:
                yield Rejected(where, error)
                continue
            example_id = str(record.get("id", "")) if isinstance(record, dict) else ""
            if problem := require(record, ("id", "caption_0", "caption_1", "image_0", "image_1")):
                yield Rejected(where, problem, example_id)
                continue
            files = [images.get(str(record[f"image_{i}"])) for i in (0, 1)]
            if None in files:
                missing = [str(record[f"image_{i}"]) for i in (0, 1) if files[i] is None]
                yield Rejected(where, f"no image file for {', '.join(missing)}", example_id)
                continue
            captions = [str(record["caption_0"]).strip(), str(record["caption_1"]).strip()]
            meta = {
                "source_dataset": "winoground",
                "example_id": record["id"],
                "tag": record.get("tag"),
                "collapsed_tag": record.get("collapsed_tag"),
            }
            for i in (0, 1):
                if mode == "image":
                    media = [ImageFile(source.under("images", files[i]))]
                    inputs = with_options("Which caption describes the image?", captions)
                    output = lettered_answer(captions, i)
                else:
                    media = [ImageFile(source.under("images", f)) for f in files]
                    choices = ["the first image", "the second image"]
                    inputs = with_options(f"Caption: {captions[i]}\nWhich image does the caption describe?", choices)
                    output = lettered_answer(choices, i)
                yield Draft(
                    source_id=f"{example_id}-{mode}{i}",
                    media=media,
                    inputs=inputs,
                    output=output,
                    meta={**meta, "image": record[f"image_{i}"], "caption": captions[i]},
                    where=where,
                )
