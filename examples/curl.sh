#!/usr/bin/env bash
# Every FHIR interaction Carnet supports, as curl calls against the demo server:
#
#   fhir-server serve --demo            # in another terminal (http://127.0.0.1:8080/fhir)
#   examples/curl.sh                    # or: BASE=http://host:port/fhir examples/curl.sh
#
# Every /fhir request needs a bearer token: requests carry "Authorization: Bearer $TOKEN" when
# TOKEN is set. Against the demo server, the demo platform client (the operator's own service,
# which reads every record, every access audited) gets one (scope system/*.cruds, 15 minutes):
#
#   TOKEN=$(python examples/backend_client.py --client-id demo-platform --print-token) examples/curl.sh
#
# (The demo hospital's token, the default of backend_client.py, reads only what its organisation
# deposited: most of this script's reads of the demo data would answer 404.)
# Needs curl only (jq, when installed, pretty-prints the answers). Each step prints the request,
# the HTTP status and the interesting part of the answer; the script stops at the first failure.
# It creates its own resources, so it can be run again and again against the same server.
set -euo pipefail

BASE="${BASE:-http://127.0.0.1:8080/fhir}"
CT="Content-Type: application/fhir+json"
ACCEPT="Accept: application/fhir+json"
AUTH=()
if [[ -n "${TOKEN:-}" ]]; then AUTH=(-H "Authorization: Bearer $TOKEN"); fi
HDR=$(mktemp)
BODY=$(mktemp)
trap 'rm -f "$HDR" "$BODY"' EXIT

pretty() { if command -v jq >/dev/null; then jq -C "${1:-.}" <"$BODY" 2>/dev/null || cat "$BODY"; else cat "$BODY"; fi; echo; }

# call EXPECTED_STATUS METHOD URL [curl options...]
call() {
  local expected="$1" method="$2" url="$3"
  shift 3
  echo "== $method $url"
  local status
  status=$(curl -sS -o "$BODY" -D "$HDR" -w '%{http_code}' -X "$method" -H "$ACCEPT" ${AUTH[@]+"${AUTH[@]}"} "$@" "$BASE${url:+/$url}")
  echo "-> HTTP $status"
  if [[ "$status" != "$expected" ]]; then
    echo "expected HTTP $expected" >&2
    cat "$BODY" >&2
    exit 1
  fi
}

header() { grep -i "^$1:" "$HDR" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# The id in a Location header: .../Type/<id>/_history/<vid>
location_id() { header Location | sed -E 's#.*/([^/]+)/_history/[0-9]+$#\1#'; }

echo "### capabilities"
call 200 GET "metadata"
pretty '{fhirVersion, formats: .format, types: [.rest[0].resource[].type]}'

echo "### read (demo data) and does a record exist for an INS"
call 200 GET "Patient/demo-alice"
pretty '{id, name: .name[0], ins: .identifier[0].value}'
call 200 GET "Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|284057505612387"
pretty '{total, ids: [.entry[]?.resource.id]}'

echo "### search (ITI-67 style): a patient's current documents, by type, newest first"
call 200 GET "DocumentReference?patient=Patient/demo-alice&status=current&_sort=-date&_count=3"
pretty '{total, ids: [.entry[]?.resource.id], next: [.link[] | select(.relation=="next") | .url]}'
call 200 GET "DocumentReference?patient=Patient/demo-bernard&type=http://loinc.org|11502-2"
pretty '[.entry[]?.resource | {id, type: .type.coding[0].code, date}]'
call 200 GET "DocumentReference?patient=Patient/demo-alice&_elements=type,date,securityLabel"
pretty '[.entry[]?.resource | {id, date, labels: [.securityLabel[]?.coding[0].code]}]'

echo "### fetch a document's content (ITI-68): the Binary's native bytes"
echo "== GET Binary/demo-alice-doc-05-content (Accept: */*)"
curl -sS -H "Accept: */*" ${AUTH[@]+"${AUTH[@]}"} "$BASE/Binary/demo-alice-doc-05-content"
echo

echo "### create"
cat >"$BODY.new" <<'JSON'
{
  "resourceType": "Observation",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
  "subject": {"reference": "Patient/demo-bernard"},
  "effectiveDateTime": "2025-02-03T09:00:00+01:00",
  "valueQuantity": {"value": 81.2, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
}
JSON
call 201 POST "Observation" -H "$CT" --data-binary @"$BODY.new"
ID=$(location_id)
echo "Location: $(header Location)   ETag: $(header ETag)"

echo "### read and vread"
call 200 GET "Observation/$ID"
pretty '{id, meta, value: .valueQuantity.value}'
call 200 GET "Observation/$ID/_history/1"
echo "### conditional read: the version held is still the current one"
call 304 GET "Observation/$ID" -H 'If-None-Match: W/"1"'

echo "### update with If-Match (optimistic locking): version 1 -> 2; a stale ETag is refused"
sed -e "s/\"resourceType\": \"Observation\",/\"resourceType\": \"Observation\", \"id\": \"$ID\",/" \
    -e 's/81\.2/80.9/' "$BODY.new" >"$BODY.upd"
call 200 PUT "Observation/$ID" -H "$CT" -H 'If-Match: W/"1"' --data-binary @"$BODY.upd"
echo "ETag: $(header ETag)"
call 412 PUT "Observation/$ID" -H "$CT" -H 'If-Match: W/"1"' --data-binary @"$BODY.upd"

echo "### patch (JSON Patch) with If-Match"
call 200 PATCH "Observation/$ID" -H "Content-Type: application/json-patch+json" -H 'If-Match: W/"2"' \
  --data-binary '[{"op": "add", "path": "/note", "value": [{"text": "Pesée du matin"}]}]'
pretty '{version: .meta.versionId, note}'

echo "### patch (FHIRPath Patch, a Parameters resource)"
call 200 PATCH "Observation/$ID" -H "$CT" -H 'If-Match: W/"3"' --data-binary '{"resourceType": "Parameters",
  "parameter": [{"name": "operation", "part": [{"name": "type", "valueCode": "replace"},
    {"name": "path", "valueString": "Observation.note.first().text"},
    {"name": "value", "valueMarkdown": "Pesée du soir"}]}]}'
pretty '{version: .meta.versionId, note}'

echo "### history of the instance, of the type"
call 200 GET "Observation/$ID/_history"
pretty '[.entry[] | {url: .fullUrl, method: .request.method, version: .resource.meta.versionId}]'
call 200 GET "Observation/_history?_count=2"
pretty '{type, entries: (.entry | length), next: [.link[] | select(.relation=="next") | .url]}'

echo "### delete (logical): then read is 410 Gone, history keeps the versions"
call 204 DELETE "Observation/$ID"
call 410 GET "Observation/$ID"
call 200 GET "Observation/$ID/_history"
pretty '[.entry[] | {method: .request.method}]'

echo "### conditional create (If-None-Exist): the second call finds the first"
RPPS="1$(date +%s | tail -c 11)"
PRACT="{\"resourceType\": \"Practitioner\", \"identifier\": [{\"system\": \"https://rpps.esante.gouv.fr\", \"value\": \"${RPPS:0:11}\"}], \"name\": [{\"family\": \"Garnier\", \"given\": [\"Sophie\"]}]}"
call 201 POST "Practitioner" -H "$CT" -H "If-None-Exist: identifier=https://rpps.esante.gouv.fr|${RPPS:0:11}" --data-binary "$PRACT"
FIRST=$(location_id)
call 200 POST "Practitioner" -H "$CT" -H "If-None-Exist: identifier=https://rpps.esante.gouv.fr|${RPPS:0:11}" --data-binary "$PRACT"
pretty '{id}'
echo "first created: Practitioner/$FIRST"

echo "### transaction (ITI-65 style): a document and its content, linked by urn:uuid"
cat >"$BODY.tx" <<'JSON'
{
  "resourceType": "Bundle",
  "type": "transaction",
  "entry": [
    {
      "fullUrl": "urn:uuid:6b1d3c1e-6f1a-4d5e-9a7f-2f1f0c7d8e01",
      "resource": {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"reference": "Patient/demo-chloe"},
        "date": "2025-02-03T10:00:00+01:00",
        "author": [{"reference": "Practitioner/demo-dr-lefevre"}],
        "custodian": {"reference": "Organization/demo-hegp"},
        "content": [{"attachment": {"contentType": "text/plain", "url": "urn:uuid:6b1d3c1e-6f1a-4d5e-9a7f-2f1f0c7d8e02",
                                    "size": 22, "title": "Consultation de suivi"}}],
        "context": {"period": {"start": "2025-02-03T10:00:00+01:00"}}
      },
      "request": {"method": "POST", "url": "DocumentReference"}
    },
    {
      "fullUrl": "urn:uuid:6b1d3c1e-6f1a-4d5e-9a7f-2f1f0c7d8e02",
      "resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "Q29uc3VsdGF0aW9uIGRlIHN1aXZpCg=="},
      "request": {"method": "POST", "url": "Binary"}
    }
  ]
}
JSON
call 200 POST "" -H "$CT" --data-binary @"$BODY.tx"
pretty '[.entry[].response | {status, location}]'
rm -f "$BODY.new" "$BODY.upd" "$BODY.tx"

echo "### errors are OperationOutcomes"
call 404 GET "Patient/no-such-patient"
pretty '.issue[0] | {severity, code, diagnostics}'

echo "All interactions answered as expected."
