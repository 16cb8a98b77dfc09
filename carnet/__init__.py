"""Carnet's composition root: builds the object graph and the Flask app, and runs the command line.

It sits above every other package (carnet_core, profiles, smart_auth, consent, fhir_server,
ingestion) and only wires them: `app.build` and `app.create_app`, the `fhir-server` console script
(`cli`, `cli_admin`).
"""
