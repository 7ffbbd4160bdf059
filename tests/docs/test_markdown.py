"""The documents are whole and true to the code: markdownlint's rules (PyMarkdown, configured in
pyproject.toml), no paragraph that starts mid-sentence, every relative link pointing at a file
(and heading) that exists, and every ``fichas …`` command they show accepted by the command.

Mid-sentence is what a lost line leaves behind (docs/OPERATIONS.md lost the opening lines of five
paragraphs once, and only ``sh runnable`` blocks were checked): a paragraph opening in lower case,
closing a parenthesis it never opened, or holding an odd number of backticks.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fichas.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    path
    for pattern in ("*.md", "docs/*.md", "alerting/*.md", "alerting/runbooks/*.md", "grafana/*.md")
    for path in ROOT.glob(pattern)
)
FENCE = re.compile(r"^```.*?^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# `fichas VERB …` in code, up to the end of the span, a comment or a shell operator.
COMMAND = re.compile(r"\bfichas ([a-z][a-z-]*(?:[ \t]+[^\s`#|;&)]+)*)")
# What may open a sentence: a capital or a digit, or markup around one (emphasis, code, a link,
# an image, a quotation, an HTML tag), a footnote's mark, or a whole sentence in parentheses.
OPENING = re.compile(r"^([A-Z0-9¹²³⁴]|\*\*|\*|\\\*|_|`|\[|!\[|\"|“|<|\([A-Z\"“])")


def paragraphs(text: str) -> list[str]:
    """The prose paragraphs: fenced code, headings, lists, tables, quotes and HTML left out."""
    prose = FENCE.sub("", text)
    found = []
    for block in re.split(r"\n\s*\n", prose):
        lines = block.strip("\n").splitlines()
        if not lines or lines[0].startswith((" ", "\t")):  # a list item's continuation
            continue
        if re.match(r"^(#|[-*+] |\d+\. |\||>|<!--|<)", lines[0]):
            continue
        found.append(" ".join(line.strip() for line in lines))
    return found


def mid_sentence(paragraph: str) -> str | None:
    """Why ``paragraph`` looks like the end of a sentence whose start was lost; None if not."""
    if not OPENING.match(paragraph):
        return "opens in lower case"
    if paragraph.count("`") % 2:
        return "holds an odd number of backticks"
    depth = 0
    for character in re.sub(r"`[^`]*`", "", paragraph):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return "closes a parenthesis it never opened"
    return None


@pytest.mark.slow  # PyMarkdown takes ~25 s over these documents here
def test_markdownlint_rules_hold() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pymarkdown", "scan", *map(str, DOCUMENTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: str(d.relative_to(ROOT)))
def test_no_paragraph_starts_mid_sentence(document: Path) -> None:
    broken = [
        f"{why}: {paragraph[:70]}…"
        for paragraph in paragraphs(document.read_text())
        if (why := mid_sentence(paragraph)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_a_paragraph_that_lost_its_first_words_is_caught() -> None:
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    assert not any(mid_sentence(p) for p in paragraphs(operations))
    caught = 0
    every = paragraphs(operations)
    for paragraph in every:
        words = paragraph.split(" ")
        for lost in (1, 2, 3):  # the first words gone, as a bad edit or merge leaves it
            if mid_sentence(" ".join(words[lost:])) is not None:
                caught += 1
                break
    # Most paragraphs give themselves away whichever of their first three words are lost; the
    # five that once lost a whole line all did (their openings are restored in the document).
    assert caught / len(every) > 0.9, f"{caught} of {len(every)}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", document.read_text()), re.MULTILINE)
    return {slug(heading) for heading in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(document: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", document.read_text())):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no such heading")
    assert not broken, "\n".join(broken)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def command_problem(command: str) -> str | None:
    """Why ``fichas <command>`` would be refused by the parser; None when it would be taken."""
    words = command.split()
    parser = build_parser()
    verbs = _subparsers(parser)
    if words[0] not in verbs:
        return f"no verb {words[0]!r}"
    chosen = verbs[words[0]]
    actions = _subparsers(chosen)
    rest = words[1:]
    if actions and rest and not rest[0].startswith("-") and rest[0] in actions:
        chosen, rest = actions[rest[0]], rest[1:]
    elif actions and rest and not rest[0].startswith(("-", "<", "[", "…", ".")):
        return f"{words[0]} has no {rest[0]!r}"
    known = _options(chosen)
    unknown = [w for w in rest if w.startswith("--") and w.split("=")[0] not in known]
    return f"{words[0]} knows no {', '.join(unknown)}" if unknown else None


def commands(text: str) -> list[str]:
    """The ``fichas …`` commands a document shows: in code spans and in code blocks."""
    code = [*FENCE.findall(text), *re.findall(r"`([^`\n]+)`", FENCE.sub("", text))]
    return [match for span in code for match in COMMAND.findall(span)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_fichas_command_shown_exists(document: Path) -> None:
    refused = [
        f"fichas {command}: {problem}"
        for command in commands(document.read_text())
        if (problem := command_problem(command)) is not None
    ]
    assert not refused, "\n".join(refused)


def test_a_command_that_does_not_exist_is_caught() -> None:
    assert command_problem("up --instances 3") is None
    assert command_problem("backup verify 20261201T120000Z") is None
    assert command_problem("restore --latest --to /tmp/check.db") is None
    assert command_problem("up --instance 3") == "up knows no --instance"
    assert command_problem("backups list") == "no verb 'backups'"
    assert command_problem("keys remove pc-1") == "keys has no 'remove'"
