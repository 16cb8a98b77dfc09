"""The README's index table is fhir_server/store/indexes.py: the same indexes, the same keys."""

import re
from pathlib import Path

from fhir_server.store import indexes

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (.+?) \| `(\w+)` \| `([^`]+)` \| (.+) \|$")
COLLECTIONS = {
    "each type": indexes.CURRENT_INDEXES,
    "each type's history": indexes.HISTORY_INDEXES,
    "`AuditEvent` (immutable)": indexes.IMMUTABLE_INDEXES,
    "`claims`": indexes.CLAIM_INDEXES,
    **{f"`{name}`": declared for name, declared in indexes.GRIDFS_INDEXES.items()},
}


def _table() -> dict[str, dict[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Indexes and the queries they serve", 1)[1].split("\n#", 1)[0]
    rows: dict[str, dict[str, str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            collection, name, keys, serves = match.groups()
            assert serves.strip(), line
            rows.setdefault(collection, {})[name] = keys
    return rows


def _keys(declared: list[tuple[str, int]]) -> str:
    return ", ".join(("-" if direction < 0 else "") + field for field, direction in declared)


def test_the_readme_lists_every_declared_index_with_its_keys():
    table = _table()
    assert set(table) == set(COLLECTIONS)
    for collection, declared in COLLECTIONS.items():
        assert table[collection] == {name: _keys(keys) for name, keys in declared.items()}, (
            collection
        )


def test_the_readme_names_the_indexes_auditevent_keeps():
    text = README.read_text(encoding="utf-8")
    sentence = text.split("`AuditEvent`, written on every audited request,", 1)[1].split("(", 1)[0]
    named = re.findall(r"`(\w+)`", sentence)
    assert named == list(indexes.ONLY_INDEXES["AuditEvent"])
