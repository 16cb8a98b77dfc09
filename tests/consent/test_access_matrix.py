"""The authorization matrix: each actor x each interaction x each document state, through HTTP.

The tables below are the rules (consent.policy); the README's access table is rendered from them
and a test keeps the two identical. 200: allowed; 404: the document reads as if it did not exist;
403: refused (scopes, or a write the rules do not allow).
"""

from pathlib import Path

import pytest

from tests.consent import world as w

# actor -> (who, the record they act on); see tests/consent/world.py for the people.
ACTORS = {
    "the patient": lambda cf, fhir: w.patient(cf, "alice"),
    "the document's author (care team)": lambda cf, fhir: w.practitioner(cf, "author", "alice"),
    "the attending doctor": lambda cf, fhir: w.practitioner(cf, "gp", "alice"),
    "another professional": lambda cf, fhir: w.practitioner(cf, "other", "alice"),
    "a blocked professional": lambda cf, fhir: w.practitioner(cf, "blocked", "alice"),
    "break-glass": lambda cf, fhir: w.practitioner(cf, "er", "alice", "bris_de_glace"),
    "break-glass, patient refused": lambda cf, fhir: w.practitioner(
        cf, "er", "bernard", "bris_de_glace"
    ),
    "SAMU centre 15": lambda cf, fhir: w.practitioner(cf, "er", "alice", "centre_15"),
    "the author's hospital system": lambda cf, fhir: w.hospital(cf),
    "the operator's platform system": lambda cf, fhir: fhir,
    "patient app, patient/Observation.rs": lambda cf, fhir: w.patient(
        cf, "alice", "patient/Observation.rs"
    ),
}
RECORD = {"break-glass, patient refused": "bernard"}

# Reading a document: read, vread, history, search, _include, and its Binary all agree.
READ = {
    "the patient": (200, 200, 404, 200),
    "the document's author (care team)": (200, 200, 200, 200),
    "the attending doctor": (200, 200, 200, 200),
    "another professional": (404, 404, 404, 404),
    "a blocked professional": (404, 404, 404, 404),
    "break-glass": (200, 404, 200, 200),
    "break-glass, patient refused": (404, 404, 404, 404),
    "SAMU centre 15": (200, 404, 200, 200),
    "the author's hospital system": (200, 200, 200, 404),
    "the operator's platform system": (200, 200, 200, 200),
    "patient app, patient/Observation.rs": (403, 403, 403, 403),
}
# Changing a document's content (PUT): one the caller cannot read answers as a missing one.
UPDATE = {
    "the patient": (403, 403, 404, 403),
    "the document's author (care team)": (200, 200, 200, 403),
    "the attending doctor": (403, 403, 403, 403),
    "another professional": (404, 404, 404, 404),
    "a blocked professional": (404, 404, 404, 404),
    "break-glass": (403, 404, 403, 403),
    "break-glass, patient refused": (404, 404, 404, 404),
    "SAMU centre 15": (403, 404, 403, 403),
    "the author's hospital system": (200, 200, 200, 404),
    "the operator's platform system": (200, 200, 200, 200),
    "patient app, patient/Observation.rs": (403, 403, 403, 403),
}
# Masking or unmasking it ($mask / $unmask), the patient's choice.
MASK = {
    "the patient": (200, 200, 404, 200),
    "the document's author (care team)": (403, 403, 403, 403),
    "the attending doctor": (403, 403, 403, 403),
    "another professional": (404, 404, 404, 404),
    "a blocked professional": (404, 404, 404, 404),
    "break-glass": (403, 404, 403, 403),
    "break-glass, patient refused": (404, 404, 404, 404),
    "SAMU centre 15": (403, 404, 403, 403),
    "the author's hospital system": (403, 403, 403, 404),
    "the operator's platform system": (200, 200, 200, 200),
    "patient app, patient/Observation.rs": (403, 403, 403, 403),
}
STATE_NAMES = ("normal", "masked (MASQUE_PS)", "invisible to the patient", "from a blocked author")


def markdown_table() -> str:
    """The README's access table, from the three tables above."""
    head = "| Actor | " + " | ".join(STATE_NAMES) + " |"
    lines = [head, "|" + "---|" * (len(STATE_NAMES) + 1)]
    for actor in ACTORS:
        cells = [
            f"read {r} · update {u} · mask {m}"
            for r, u, m in zip(READ[actor], UPDATE[actor], MASK[actor], strict=True)
        ]
        lines.append(f"| {actor} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def _status_of_search(client, pid: str, doc_id: str) -> int:
    response = client.get(f"DocumentReference?patient=Patient/{pid}&_total=accurate&_count=50")
    if response.status_code != 200:
        return response.status_code
    ids = [e["resource"]["id"] for e in response.get_json().get("entry", [])]
    assert response.get_json()["total"] == len(ids)
    return 200 if doc_id in ids else 404


@pytest.mark.parametrize("actor", list(ACTORS))
def test_reading(actor, world, fhir, client_for):
    client = ACTORS[actor](client_for, fhir)
    pid = RECORD.get(actor, "alice")
    for state, expected in zip(w.STATES, READ[actor], strict=True):
        doc, binary = world.doc(pid, state), world.binaries[pid][state]
        seen = {
            "read": client.get(f"DocumentReference/{doc}").status_code,
            "vread": client.get(f"DocumentReference/{doc}/_history/1").status_code,
            "history": client.get(f"DocumentReference/{doc}/_history").status_code,
            "search": _status_of_search(client, pid, doc),
            "Binary": client.get(f"Binary/{binary}").status_code,
        }
        assert set(seen.values()) == {expected}, (actor, state, seen)


@pytest.mark.parametrize("actor", list(ACTORS))
def test_writing(actor, world, fhir, client_for):
    client = ACTORS[actor](client_for, fhir)
    pid = RECORD.get(actor, "alice")
    for state, expected in zip(w.STATES, UPDATE[actor], strict=True):
        doc = world.doc(pid, state)
        current = fhir.get(f"DocumentReference/{doc}").get_json()
        changed = {**current, "description": "corrected"}
        assert client.put(f"DocumentReference/{doc}", changed).status_code == expected, (
            actor,
            state,
        )


@pytest.mark.parametrize("actor", list(ACTORS))
def test_masking(actor, world, fhir, client_for):
    client = ACTORS[actor](client_for, fhir)
    pid = RECORD.get(actor, "alice")
    for state, expected in zip(w.STATES, MASK[actor], strict=True):
        doc = world.doc(pid, state)
        operation = "$unmask" if state == "masked" else "$mask"
        response = client.post(f"DocumentReference/{doc}/{operation}")
        assert response.status_code == expected, (actor, state, response.get_json())


def test_the_readme_shows_this_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's access table differs from tests:\n" + (
        markdown_table()
    )
