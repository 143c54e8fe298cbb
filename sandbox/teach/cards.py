"""Interview cards (`lessons/interview.toml`): format, loader and validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.catalog import CARDS_PATH, display_path
from sandbox.teach.blocks import Block, check_fields, read, required_text, required_texts
from sandbox.teach.lessons import lesson_ids, shipped_scenario

CARD_FIELDS = ("id", "topic", "question", "answer", "key_points", "follow_up", "lessons", "scenario")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Card:
    id: str
    topic: str
    question: str
    answer: str
    key_points: tuple[str, ...]
    follow_up: str
    """The question a senior interviewer asks next."""
    review: tuple[str, ...]
    """The ids of the lessons to review when an answer missed key points."""
    scenario_id: str
    source: str
    line: int


def load_cards(path: str | Path = CARDS_PATH) -> list[Card]:
    return parse_cards_text(read(path), display_path(path))


def parse_cards_text(text: str, source: str = "<cards>", lessons: dict[str, str] | None = None) -> list[Card]:
    """Validate `[[card]]` tables against the lessons they send a learner to (id -> title; default: the shipped
    lessons); raise LessonError naming the file, line and field."""
    known = lesson_ids() if lessons is None else lessons
    block = Block(source, tuple(text.splitlines()), 1)
    doc = block.decode()
    for key in doc:
        if key != "card":
            raise block.error(key, "unknown field; a cards file holds only [[card]] tables")
    raw = doc.get("card")
    if not isinstance(raw, list) or not raw:
        raise block.error("card", "needs at least one [[card]] table")
    cards: list[Card] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"card[{i}]"
        if not isinstance(entry, dict):
            raise block.error(where, "must be a table ([[card]])")
        check_fields(entry, CARD_FIELDS, CARD_FIELDS, block, where)
        card_id = required_text(entry, "id", block, where)
        if not _ID.match(card_id) or card_id in seen:
            raise block.error(f"{where}.id", f"{card_id!r}: use a unique id of lower-case letters, digits and dashes")
        seen.add(card_id)
        scenario_id = required_text(entry, "scenario", block, where)
        shipped_scenario(scenario_id, block, f"{where}.scenario")
        reviews = required_texts(entry, "lessons", block, 1, where)
        for j, lesson_id in enumerate(reviews):
            if lesson_id not in known:
                raise block.error(f"{where}.lessons[{j}]", f"{lesson_id!r} is not a lesson; use one of "
                                                           f"{', '.join(known)}")
        topic, question, answer, follow_up = (required_text(entry, key, block, where)
                                              for key in ("topic", "question", "answer", "follow_up"))
        cards.append(Card(card_id, topic, question, answer, required_texts(entry, "key_points", block, 1, where),
                          follow_up, reviews, scenario_id, source, block.line_of(where)))
    return cards
