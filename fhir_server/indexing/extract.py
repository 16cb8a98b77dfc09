"""Extraction of search values at write time: https://hl7.org/fhir/R4/search.html#ptypes

The encodings are described in fhir_server.indexing.values.
"""

import re
from decimal import Decimal

from carnet_core import dates
from fhir_server.indexing import values
from fhir_server.indexing.registry import Registry, SearchParam


def _token_keys(code: str, system: str | None, value: str) -> list[str]:
    keys = [values.key(code, values.part(value))]
    keys.append(values.key(code, values.joined(system or "", value)))
    if system:
        keys.append(values.key(code, values.joined(system, "")))
    return keys


def _token(code: str, node, out: dict) -> None:
    tk, tt = out["tk"], out["tt"]
    if isinstance(node, bool):
        tk.extend(_token_keys(code, None, "true" if node else "false"))
    elif isinstance(node, str):
        tk.extend(_token_keys(code, None, node))
    elif isinstance(node, dict):
        if "coding" in node or "text" in node and "value" not in node and "code" not in node:
            for coding in node.get("coding", []):
                _token(code, coding, out)
            if node.get("text"):
                tt.append(values.key(code, values.normalize(node["text"])))
            return
        system = node.get("system")
        value = node.get("code", node.get("value"))
        if isinstance(value, str):
            tk.extend(_token_keys(code, system, value))
            for coding in (node.get("type") or {}).get("coding", []):
                if coding.get("code"):
                    of_type = values.joined(coding.get("system", ""), coding["code"], value)
                    tk.append(values.key(f"{code}:of-type", of_type))
        if node.get("display"):
            tt.append(values.key(code, values.normalize(node["display"])))
        if (node.get("type") or {}).get("text"):
            tt.append(values.key(code, values.normalize(node["type"]["text"])))


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        out = []
        for field in (
            "text",
            "family",
            "given",
            "prefix",
            "suffix",
            "line",
            "city",
            "district",
            "state",
            "postalCode",
            "country",
        ):
            item = node.get(field)
            out.extend(item if isinstance(item, list) else [item] if item else [])
        return [s for s in out if isinstance(s, str)]
    return []


_VERSIONED = re.compile(r"^(?P<ref>(.*/)?[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})/_history/[^/]+$")


def _unversioned(ref: str) -> str:
    """`Patient/1/_history/2` refers to Patient/1 for search (search.html#reference)."""
    m = _VERSIONED.match(ref)
    return m["ref"] if m else ref


def _reference(code: str, node, out: dict) -> None:
    if isinstance(node, str):
        out["rf"].append(values.key(code, _unversioned(node)))
        return
    if not isinstance(node, dict):
        return
    ref = node.get("reference")
    if isinstance(ref, str) and not ref.startswith("#"):
        out["rf"].append(values.key(code, _unversioned(ref)))
    identifier = node.get("identifier") or {}
    if identifier.get("value"):
        system, value = identifier.get("system", ""), identifier["value"]
        out["rf"].append(values.key(f"{code}:identifier", values.joined(system, value)))
        out["rf"].append(values.key(f"{code}:identifier", values.part(value)))


def _date(code: str, node, out: dict) -> None:
    try:
        if isinstance(node, str):
            lo, hi = dates.date_range(node)
        elif isinstance(node, dict) and ("start" in node or "end" in node):
            lo = dates.date_range(node["start"])[0] if node.get("start") else dates.MIN_DATE
            hi = dates.date_range(node["end"])[1] if node.get("end") else dates.MAX_DATE
        else:
            return
    except ValueError:
        return
    out["dt"].append({"p": code, "lo": lo, "hi": hi})


def _quantity(code: str, node, out: dict) -> None:
    if isinstance(node, (int, float, Decimal)) and not isinstance(node, bool):
        out["nq"].append({"p": code, "v": float(node)})
    elif isinstance(node, dict) and isinstance(node.get("value"), (int, float, Decimal)):
        entry = {"p": code, "v": float(node["value"])}
        if node.get("system"):
            entry["s"] = node["system"]
        if node.get("code") or node.get("unit"):
            entry["c"] = node.get("code") or node.get("unit")
        out["nq"].append(entry)


def _sort_value(param: SearchParam, nodes: list, out: dict):
    if param.type == "date" and out["dt"]:
        mine = [d["lo"] for d in out["dt"] if d["p"] == param.code]
        return min(mine) if mine else None
    if param.type == "string":
        texts = [values.normalize(s) for n in nodes for s in _strings(n)]
        return min(texts) if texts else None
    if param.type in ("token", "uri", "reference"):
        prefix = values.key(param.code, "")
        field = "rf" if param.type == "reference" else "tk"
        mine = [
            k[len(prefix) :]
            for k in out[field]
            if k.startswith(prefix) and "|" not in k[len(prefix) :]
        ]
        return min(mine) if mine else None
    if param.type in ("number", "quantity"):
        mine = [q["v"] for q in out["nq"] if q["p"] == param.code]
        return min(mine) if mine else None
    return None


def extract(resource: dict, registry: Registry) -> dict:
    """Compute the search values of `resource` for every parameter of its type."""
    out: dict = {
        "tk": [],
        "tt": [],
        "st": [],
        "se": [],
        "rf": [],
        "dt": [],
        "nq": [],
        "has": [],
        "so": {},
    }
    for param in registry.for_type(resource["resourceType"]).values():
        if param.code == "_id":  # searched on the document's own _id
            continue
        nodes = param.path(resource)
        if not nodes:
            continue
        before = {k: len(v) for k, v in out.items() if isinstance(v, list)}
        for node in nodes:
            if param.type == "token":
                _token(param.code, node, out)
            elif param.type == "uri" and isinstance(node, str):
                out["tk"].append(values.key(param.code, node))
            elif param.type == "string":
                for text in _strings(node):
                    out["st"].append(values.key(param.code, values.normalize(text)))
                    out["se"].append(values.key(param.code, text))
            elif param.type == "reference":
                _reference(param.code, node, out)
            elif param.type == "date":
                _date(param.code, node, out)
            elif param.type in ("quantity", "number"):
                _quantity(param.code, node, out)
        if any(len(v) > before[k] for k, v in out.items() if isinstance(v, list)):
            out["has"].append(param.code)
            sort_value = _sort_value(param, nodes, out)
            if sort_value is not None:
                out["so"][param.code] = sort_value
    for field in ("tk", "tt", "st", "se", "rf"):
        out[field] = sorted(set(out[field]))
    return {k: v for k, v in out.items() if v}
