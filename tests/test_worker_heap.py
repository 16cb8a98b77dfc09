"""A served worker makes its long-lived objects at start-up, before carnet.heap sets them aside
from the garbage collector: its first requests import no resource model (fhir.resources would
otherwise import one, and the data types it uses, on first validation, and every later full
collection would walk those classes again, in whichever request it fell).
Checked in a fresh interpreter, since the test session itself has imported the models.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_workers_first_create_read_and_search_import_no_resource_model(tmp_path):
    check = f"""
import sys
from carnet import heap
from carnet.app import build, create_app
from fhir_server.config import Settings

settings = Settings.from_env(base_url="http://test/fhir", data_dir={str(tmp_path)!r},
                             mongodb_db="carnet_heap_{tmp_path.name[-8:]}")
carnet = build(settings)
app = create_app(settings, carnet)
heap.settle()
token, _ = carnet.auth.tokens.issue(client_id="heap", scope="system/*.cruds", actor="system",
                                    subject="heap", lifetime=600, platform=True)
headers = {{"Authorization": "Bearer " + token, "Accept": "application/fhir+json"}}
before = {{m for m in sys.modules if m.startswith("fhir.resources")}}
client = app.test_client()
document = {{
    "resourceType": "DocumentReference", "status": "current",
    "masterIdentifier": {{"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.9.1"}},
    "type": {{"coding": [{{"system": "http://loinc.org", "code": "11488-4"}}]}},
    "subject": {{"reference": "Patient/heap-p1"}}, "date": "2026-11-30T10:00:00+01:00",
    "author": [{{"display": "Dr Martin"}}], "description": "compte rendu",
    "content": [{{"attachment": {{"contentType": "text/plain", "url": "Binary/x",
                                  "title": "cr", "creation": "2026-11-30"}}}}],
    "context": {{"period": {{"start": "2026-11-29"}}}},
}}
created = client.post("/fhir/DocumentReference", json=document,
                      headers={{**headers, "Content-Type": "application/fhir+json"}})
assert created.status_code == 201, created.get_data(as_text=True)
doc_id = created.get_json()["id"]
assert client.get("/fhir/DocumentReference/" + doc_id, headers=headers).status_code == 200
found = client.get("/fhir/DocumentReference?patient=Patient/heap-p1", headers=headers)
assert found.get_json()["total"] == 1, found.get_data(as_text=True)
imported = sorted({{m for m in sys.modules if m.startswith("fhir.resources")}} - before)
assert not imported, imported
if settings.mongodb_uri:
    carnet.store.db.client.drop_database(settings.mongodb_db)
"""
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
