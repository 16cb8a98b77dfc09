"""ITI-65 pushes built from examples/mhd (written after the ANS guide's examples), varied per test."""

import base64
import copy
import hashlib
import json
import uuid
from pathlib import Path

from consent.codes import VISIBILITY_SYSTEM
from ingestion.ins import INS_NIR, nir_key

MHD = Path(__file__).resolve().parents[2] / "examples" / "mhd"
HEGP = "Organization/demo-hegp"
LETTER_NIR = "291037511223356"  # the discharge letter's patient
LAB_NIR = "168072B03301886"  # the lab report's patient (born in Corsica)


def nir(number: str) -> str:
    """A valid matricule: 13 characters and their control key."""
    return f"{number}{nir_key(number):02d}"


def example(name: str = "iti65-discharge-letter.json") -> dict:
    return json.loads((MHD / name).read_text("utf-8"))


def documents(bundle: dict) -> list[dict]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]


def fresh(bundle: dict, content: bytes | None = None) -> dict:
    """The push as a new submission: new uniqueIds, and new content if given (size, hash kept right)."""
    bundle = copy.deepcopy(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DocumentReference":
            resource["masterIdentifier"]["value"] = f"urn:oid:2.999.1.{uuid.uuid4().int}"
        if resource["resourceType"] == "List":
            for identifier in resource.get("identifier", []):
                if identifier["value"].startswith("urn:oid:"):
                    identifier["value"] = f"urn:oid:2.999.2.{uuid.uuid4().int}"
    if content is not None:
        with_content(bundle, content)
    return bundle


def with_content(bundle: dict, content: bytes) -> dict:
    """Every Binary holds `content`, and the attachments say its size and SHA-1."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Binary":
            resource["data"] = base64.b64encode(content).decode()
        if resource["resourceType"] == "DocumentReference":
            attachment = resource["content"][0]["attachment"]
            attachment["size"] = len(content)
            attachment["hash"] = base64.b64encode(hashlib.sha1(content).digest()).decode()
    return bundle


def for_ins(bundle: dict, value: str, system: str = INS_NIR) -> dict:
    """The push for another person: every mention of the example's INS replaced."""
    text = json.dumps(bundle)
    for old in (LETTER_NIR, LAB_NIR):
        text = text.replace(old, value)
    bundle = json.loads(text)
    if system != INS_NIR:
        text = json.dumps(bundle).replace(INS_NIR, system)
        bundle = json.loads(text)
    return bundle


def labelled(bundle: dict, *codes: str) -> dict:
    """Every document deposited with these TRE_A07 visibility labels (besides its others)."""
    for document in documents(bundle):
        document["securityLabel"] += [
            {"coding": [{"system": VISIBILITY_SYSTEM, "code": code}]} for code in codes
        ]
    return bundle


def created(response) -> dict[str, str]:
    """resource type -> "Type/id" of each entry of a transaction-response."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["type"] == "transaction-response"
    out = {}
    for entry in body["entry"]:
        location = entry["response"]["location"].split("/_history/")[0]
        rtype, id = location.rsplit("/", 2)[-2:]
        out[rtype] = f"{rtype}/{id}"
    return out
