"""Bulk Data export ($export, FHIR Bulk Data Access IG v2): https://hl7.org/fhir/uv/bulkdata/export.html

`operation` answers the kick-off, status, cancellation and file requests (framework-free, rows of
the route table); `job` writes the NDJSON files in a thread beside the request, reading through the
store under the requester's AccessContext, and audits what it read as it goes; `models` keeps the
jobs in the database, so any process answers their polls.
"""
