"""The patient-compartment key (`pk`) of every stored document: https://hl7.org/fhir/R4/compartmentdefinition-patient.html

`pk` is "Patient/<id>" for resources in a patient's compartment (the Patient itself included) and
the resource's own "Type/id" for shared resources (directory entries). It leads the indexes and is
the shard key of a sharded deployment.
"""

from carnet_core.compartment import COMPARTMENT_PARAMS, PRIMARY, patient_ref
from fhir_server.indexing.registry import Registry


def compartment_key(resource: dict, registry: Registry, base_url: str) -> str | None:
    """The patient this resource belongs to, or None when it is in no patient's compartment."""
    resource_type = resource["resourceType"]
    if resource_type == "Patient":
        return f"Patient/{resource['id']}"
    if resource_type == "Binary":
        ref = (resource.get("securityContext") or {}).get("reference", "")
        return patient_ref(ref, base_url)
    params = COMPARTMENT_PARAMS.get(resource_type) or []
    primary = PRIMARY.get(resource_type)
    ordered = ([primary] if primary else []) + [p for p in params if p != primary]
    for code in ordered:
        param = registry.get(resource_type, code)
        if param is None:
            continue
        for node in param.path(resource):
            if isinstance(node, dict) and isinstance(node.get("reference"), str):
                found = patient_ref(node["reference"], base_url)
                if found:
                    return found
    return None
