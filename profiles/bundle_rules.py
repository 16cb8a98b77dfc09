"""ITI-65 rules that cross entries, beyond JSON Schema: https://profiles.ihe.net/ITI/MHD/ITI-65.html#2365412-message-semantics

- a DocumentReference's attachment.url points at a Binary (or FHIR document Bundle) of the Bundle,
  whose decoded bytes match attachment.size and attachment.hash (SHA-1);
- every DocumentReference of the Bundle is an entry of its SubmissionSet (XDS HasMember);
- contained references (#id) resolve, to the resource types the guide (PDSm, PDSM4DMP) allows there.
"""

import base64
import binascii
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from profiles.issues import ProfileIssue, expression

MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
AUTHOR_ORG = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-authorOrg"
INTENDED_RECIPIENT = (
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-intended-recipient"
)
PERSON_OR_ORG = frozenset({"Practitioner", "PractitionerRole", "Organization"})
# A step is an element name, or ("extension", url) for the extensions with that url.
Step = str | tuple[str, str]
Path = list[str | int]
# (steps to a Reference, the resource types a guide allows it to point at), by resource type.
Targets = Mapping[str, tuple[tuple[tuple[Step, ...], frozenset[str]], ...]]


@dataclass(frozen=True)
class Guide:
    """A guide's name (for messages) and the contained resources it allows behind each reference."""

    name: str
    targets: Targets


# From pdsm-comprehensive-document-reference and pdsm-submissionset-comprehensive.
PDSM = Guide(
    "PDSm",
    {
        "DocumentReference": (
            (("author",), frozenset({"Practitioner", "PractitionerRole", "Device", "Patient"})),
            (("authenticator",), PERSON_OR_ORG),
            (("context", "sourcePatientInfo"), frozenset({"Patient"})),
        ),
        "List": (
            (("source",), frozenset({"PractitionerRole", "Device", "Patient"})),
            (("source", ("extension", AUTHOR_ORG), "valueReference"), frozenset({"Organization"})),
            ((("extension", INTENDED_RECIPIENT), "valueReference"), PERSON_OR_ORG),
        ),
    },
)
# PDSM4DMP's Author logical model: a professional (ActorPS: Practitioner or PractitionerRole), the
# patient, or a system (ActorSystem, ActorSNR: Device), for a document and for a submission; its
# legalAuthenticator (-> authenticator) is a professional, the patient or a system, of which base
# FHIR R4 DocumentReference.authenticator admits only the professional.
PDSM4DMP = Guide(
    "PDSM4DMP",
    {
        "DocumentReference": (
            (("author",), frozenset({"Practitioner", "PractitionerRole", "Device", "Patient"})),
            (("authenticator",), frozenset({"Practitioner", "PractitionerRole"})),
            (("context", "sourcePatientInfo"), frozenset({"Patient"})),
        ),
        "List": (
            (("source",), frozenset({"Practitioner", "PractitionerRole", "Device", "Patient"})),
            (("source", ("extension", AUTHOR_ORG), "valueReference"), frozenset({"Organization"})),
            ((("extension", INTENDED_RECIPIENT), "valueReference"), PERSON_OR_ORG),
        ),
    },
)


def contained_issues(
    resource: Mapping[str, Any], root: str, guide: Guide = PDSM
) -> list[ProfileIssue]:
    """Contained references of a DocumentReference or SubmissionSet that do not resolve as the guide says."""
    targets = guide.targets.get(resource.get("resourceType"), ())
    contained = {
        f"#{item.get('id')}": item.get("resourceType")
        for item in _list(resource.get("contained"))
        if isinstance(item, Mapping)
    }
    found = []
    for steps, allowed in targets:
        for path, reference in _references(resource, steps):
            where = expression(root, [*path, "reference"])
            if reference not in contained:
                found.append(ProfileIssue(f"{reference} is not a contained resource", where))
            elif contained[reference] not in allowed:
                kinds, kind = ", ".join(sorted(allowed)), contained[reference]
                article = "an" if str(kind)[:1] in "AEIOU" else "a"
                message = f"{reference} is {article} {kind}; {guide.name} allows {kinds} here"
                found.append(ProfileIssue(message, where))
    return found


def bundle_issues(bundle: Mapping[str, Any], guide: Guide = PDSM) -> list[ProfileIssue]:
    """The cross-entry ITI-65 rules over a Provide Document Bundle."""
    entries = [entry if isinstance(entry, Mapping) else {} for entry in _list(bundle.get("entry"))]
    members = _submission_set_members(entries)
    found: list[ProfileIssue] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry.get("resource"), Mapping) else {}
        root = f"Bundle.entry[{index}].resource"
        if resource.get("resourceType") not in ("DocumentReference", "List"):
            continue
        found += contained_issues(resource, root, guide)
        if resource.get("resourceType") != "DocumentReference":
            continue
        if members is not None and not _is_member(entry, members):
            found.append(
                ProfileIssue(
                    "this DocumentReference is not an entry of the SubmissionSet"
                    " (every document of a submission is a member of its SubmissionSet)",
                    f"Bundle.entry[{index}]",
                )
            )
        for position, content in enumerate(_list(resource.get("content"))):
            attachment = content.get("attachment") if isinstance(content, Mapping) else None
            if isinstance(attachment, Mapping):
                where = f"{root}.content[{position}].attachment"
                found += _attachment_issues(attachment, entries, where)
    return found


def _attachment_issues(
    attachment: Mapping[str, Any], entries: Sequence[Mapping[str, Any]], where: str
) -> list[ProfileIssue]:
    url = attachment.get("url")
    target = _resolve(url, entries) if isinstance(url, str) else None
    if target is None or target.get("resourceType") not in ("Binary", "Bundle"):
        message = f"attachment.url {url!r} does not point at a Binary of this Bundle"
        return [
            ProfileIssue(message + " (PDSm: the document travels in the Bundle)", f"{where}.url")
        ]
    if target.get("resourceType") != "Binary" or not isinstance(target.get("data"), str):
        return []
    try:
        content = base64.b64decode(target["data"], validate=True)
    except (binascii.Error, ValueError):
        return [ProfileIssue("the Binary's data is not valid base64", f"{where}.url")]
    found = []
    if "size" in attachment and attachment["size"] != len(content):
        message = (
            f"attachment.size {attachment['size']} does not match the Binary's {len(content)} bytes"
        )
        found.append(ProfileIssue(message + " (ITI-65: accurate size)", f"{where}.size"))
    digest = base64.b64encode(hashlib.sha1(content).digest()).decode("ascii")
    if "hash" in attachment and attachment["hash"] != digest:
        message = f"attachment.hash does not match the Binary's SHA-1 (expected {digest})"
        found.append(ProfileIssue(message + " (ITI-65: accurate hash)", f"{where}.hash"))
    return found


def _resolve(url: str, entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The resource an in-Bundle reference points at: by fullUrl, or by its type/id."""
    for entry in entries:
        resource = entry.get("resource")
        if not isinstance(resource, Mapping):
            continue
        full_url = entry.get("fullUrl")
        local = f"{resource.get('resourceType')}/{resource.get('id')}"
        if url == full_url or (
            "id" in resource
            and (url == local or (isinstance(full_url, str) and full_url.endswith(f"/{url}")))
        ):
            return resource
    return None


def _submission_set_members(entries: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """The item references of the Bundle's SubmissionSet, or None if it has none."""
    for entry in entries:
        resource = entry.get("resource")
        if isinstance(resource, Mapping) and resource.get("resourceType") == "List":
            codings = _list((resource.get("code") or {}).get("coding"))
            if any(
                isinstance(c, Mapping)
                and c.get("system") == MHD_LIST_TYPES
                and c.get("code") == "submissionset"
                for c in codings
            ):
                return {
                    item["item"]["reference"]
                    for item in _list(resource.get("entry"))
                    if isinstance(item, Mapping)
                    and isinstance(item.get("item"), Mapping)
                    and isinstance(item["item"].get("reference"), str)
                }
    return None


def _is_member(entry: Mapping[str, Any], members: set[str]) -> bool:
    resource = entry["resource"]
    names = {entry.get("fullUrl"), f"DocumentReference/{resource.get('id')}"}
    return any(
        member in names
        or (isinstance(entry.get("fullUrl"), str) and entry["fullUrl"].endswith(f"/{member}"))
        for member in members
    )


def _references(
    value: Any, steps: Sequence[Step], path: Path | None = None
) -> Iterator[tuple[Path, str]]:
    """(path, reference) of each contained reference (#id) found by following `steps`."""
    path = path or []
    if isinstance(value, list):
        for position, item in enumerate(value):
            yield from _references(item, steps, [*path, position])
        return
    if not isinstance(value, Mapping):
        return
    if not steps:
        reference = value.get("reference")
        if isinstance(reference, str) and reference.startswith("#"):
            yield path, reference
        return
    step, rest = steps[0], steps[1:]
    if isinstance(step, tuple):
        url = step[1]
        for position, extension in enumerate(_list(value.get("extension"))):
            if isinstance(extension, Mapping) and extension.get("url") == url:
                yield from _references(extension, rest, [*path, "extension", position])
        return
    yield from _references(value.get(step), rest, [*path, step])


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
