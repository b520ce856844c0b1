"""The documentation states what the code does: every command-line option with its default,
the page's defaults, and no word about how the project is organised internally.

(`make test` builds the site itself with `mkdocs build --strict`, which checks the links.)
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from freqrex_app.web.limits import DEFAULT_PRESET, PRESETS, Limits
from freqrex_app.cli.main import build_parser
from freqrex_app.engine import EngineConfig
from freqrex_app.models import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"

#: What a default of None means, as the reference must state it (command, option) -> text.
_CONFIG = EngineConfig()
NONE_MEANS = {
    ("explain", "--model"): DEFAULT_MODEL,
    ("explain", "--labels-view"): "all labels",
    ("explain", "--budget"): "unbounded",
    ("explain", "--contrast"): "none",
    ("evaluate", "--models"): DEFAULT_MODEL,
    ("evaluate", "--labels-view"): "all labels",
    ("evaluate", "--fill"): f"{_CONFIG.fill:g}",
    ("evaluate", "--min-width"): str(_CONFIG.min_width),
    ("evaluate", "--iterations"): "from the budget",
    ("evaluate", "--batch-size"): str(_CONFIG.batch_size),
    ("evaluate", "--limit"): "all",
    ("evaluate", "--ray"): "none",
}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option_rows(command: str) -> dict[str, str]:
    """The reference's table under '### `freqrex COMMAND`': option -> its default cell."""
    text = REFERENCE.read_text()
    heading = f"### `freqrex {command}`"
    assert heading in text, f"docs/reference.md has no section {heading}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `-") and len(cells) >= 3:
            option = re.match(r"`(--[a-z-]+)", cells[0]).group(1)
            rows[option] = cells[1]
    return rows


def _documented_options(command: str) -> list[argparse.Action]:
    return [a for a in _subcommands()[command]._actions
            if a.option_strings and a.default != argparse.SUPPRESS]


@pytest.mark.parametrize("command", ["explain", "app", "evaluate"])
def test_the_reference_states_every_option_of_the_command_line_with_its_default(command):
    rows = _option_rows(command)
    actions = _documented_options(command)
    assert actions, f"freqrex {command} has no options to check"
    for action in actions:
        option = action.option_strings[-1]
        assert option in rows, f"docs/reference.md does not document freqrex {command} {option}"
        cell = rows[option]
        if action.required:
            assert cell == "(required)", f"{option}: {cell!r}"
        elif isinstance(action, argparse._StoreTrueAction):
            assert cell and "required" not in cell, f"{option}: {cell!r}"
        elif action.default is None:
            expected = NONE_MEANS[(command, option)]
            assert expected in cell, f"{command} {option}: {cell!r} does not say {expected!r}"
        elif isinstance(action.default, (int, float)):
            number = re.match(r"[\d.,]+", cell)
            assert number, f"{command} {option}: {cell!r} states no number"
            assert float(number.group(0).replace(",", "")) == float(action.default), (
                f"{command} {option}: the reference says {cell!r}, the code {action.default!r}")
        else:
            assert f"`{action.default}`" in cell, f"{command} {option}: {cell!r}"


def test_the_reference_states_the_pages_defaults_beside_the_command_lines():
    text = REFERENCE.read_text()
    section = text.split("## Defaults: the command line, the page and the API", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2:5] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| setting")}
    cli, page, api = (c.strip() for c in rows["excerpt length"])
    limits = Limits()
    assert cli.startswith("**30 s**") and page.startswith(f"**{limits.default_excerpt_s:g} s**")
    assert api.startswith(f"{limits.default_excerpt_s:g} s")
    cli, page, api = (c.strip() for c in rows["budget (model calls)"])
    standard = PRESETS[DEFAULT_PRESET]
    assert cli.startswith("**unbounded**") and page.startswith(f"**{standard:,}**")
    assert f"{limits.max_budget:,}" in page and api.startswith(f"{standard:,}")
    defaults = {a.dest: a.default for a in _subcommands()["explain"]._actions}
    assert defaults["duration"] == 30.0 and defaults["budget"] is None  # what the CLI column says
    assert defaults["labels_view"] is None and rows["labels view"][0].strip().startswith("**all**")


INTERNAL = re.compile(r"\bissues? \d+|\bSPEC\.md\b|lent to this task|\bsessions? \d+",
                      re.IGNORECASE)


@pytest.mark.parametrize("path", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_the_documentation_says_nothing_about_how_the_project_is_organised(path):
    text = (ROOT / path).read_text()
    found = INTERNAL.findall(text)
    assert not found, f"{path} mentions {found}"
