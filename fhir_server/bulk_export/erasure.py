"""The export jobs of an erased record go with it: https://hl7.org/fhir/uv/bulkdata/export.html

CSP R1111-36 (https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/): an erased
record leaves nothing behind, and an export's NDJSON files are copies of it. Every job whose output
holds the record's data is deleted, files and bookkeeping alike (its status and file URLs then
answer 404, as a cancelled job's): the record's own exports, the exports of every record or of the
whole server whose files name it, and those still running over it (they may yet write it).
"""

import json
import re
import shutil
from pathlib import Path

from fhir_server.bulk_export.job import job_folder
from fhir_server.bulk_export.models import ExportJob

SHARED_LEVELS = ("patients", "system")


def erase_exports_of(root: Path, pk: str) -> int:
    """Delete every export job holding data of compartment `pk` (`Patient/<id>`), with its
    files; returns how many jobs went."""
    gone = 0
    own = ExportJob.objects(level="patient", patient=pk)
    shared = ExportJob.objects(level__in=SHARED_LEVELS)
    for job in [*own, *shared]:
        folder = job_folder(root, job.job_id)
        if job.level == "patient" or job.status == "running" or _names(folder, pk):
            # The bookkeeping first: a running job stops at its next batch once it is gone.
            job.delete()
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def _names(folder: Path, pk: str) -> bool:
    """Whether a line of the job's files is the Patient `pk` or refers to it."""
    id = pk.removeprefix("Patient/")
    reference = re.compile(rb'["/]' + re.escape(pk.encode()) + rb'(?:/_history/[^"]*)?"')
    needle = json.dumps(id).encode()
    for path in sorted(folder.glob("*.ndjson")) if folder.is_dir() else ():
        with path.open("rb") as lines:
            for line in lines:
                if reference.search(line) or (needle in line and _is_patient(line, id)):
                    return True
    return False


def _is_patient(line: bytes, id: str) -> bool:
    resource = json.loads(line)
    return resource.get("resourceType") == "Patient" and resource.get("id") == id
