"""The configuration reference in docs/ equals what the code generates, and the docs' links hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import config_reference
from gateway.config_reference import MEANINGS, ConfigReferenceError, generated_block, render

ROOT = Path(__file__).resolve().parents[3]
CONFIGURATION_MD = ROOT / "docs" / "configuration.md"
# [text](target) and [text](target "title"); images too
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_configuration_md_holds_the_generated_reference() -> None:
    block = generated_block(CONFIGURATION_MD.read_text(encoding="utf-8"))

    assert block == render(), (
        "docs/configuration.md is out of date: run "
        "`python -m gateway.config_reference --update docs/configuration.md`"
    )


def test_a_config_field_without_a_meaning_is_refused() -> None:
    meanings = {k: v for k, v in MEANINGS.items() if k != "orders.request_timeout_ms"}

    with pytest.raises(ConfigReferenceError, match=r"orders\.request_timeout_ms"):
        render(meanings)


def test_a_meaning_for_a_key_that_does_not_exist_is_refused() -> None:
    meanings = {**MEANINGS, "limits.max_qty": "a key nobody reads"}

    with pytest.raises(ConfigReferenceError, match=r"limits\.max_qty"):
        render(meanings)


def test_every_table_of_the_gateway_toml_is_in_the_reference() -> None:
    tables = {spec.name for spec in config_reference.TABLES}

    assert tables == {
        "gateway",
        "ledger",
        "limits",
        "orders",
        "venues.NAME",
        "routing",
        "strategy",
        "telemetry",
        "reconnect",
        "decision",
        "decision.execution",
        "decision.risk",
        "decision.symbols.SYM",
    }


def test_the_module_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert config_reference.main([]) == 0

    assert capsys.readouterr().out == render()


def _anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_an_existing_file_and_heading(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path) if path else doc
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)

    assert broken == []
