"""Every preset is documented: a section in docs/presets.md and a row in the README's preset table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.policy.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_has_a_section_and_a_row(name: str) -> None:
    docs = (ROOT / "docs" / "presets.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", docs, flags=re.M)
    assert any(f"`{name}`" in heading for heading in headings), f"no section for {name} in docs/presets.md"
    assert f"| [`{name}`](#" in docs, f"{name} missing from the overview table of docs/presets.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"\n| `{name}` |" in readme, f"{name} missing from the README's preset table"


def test_every_preset_has_a_description_for_the_schema() -> None:
    for preset in PRESETS.values():
        assert preset.description and len(preset.description) < 300, preset.name
