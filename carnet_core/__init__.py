"""Carnet's shared vocabulary: what every layer may import, importing nothing of Carnet's own.

Typed errors and their OperationOutcome (`errors`, `outcome`), the caller's AccessContext and SMART
scopes (`context`, `scopes`), the patient compartment's parameters (`compartment`) and FHIR date
ranges (`dates`). The layers above, bottom to top: profiles, smart_auth, consent, fhir_server,
ingestion, carnet (the composition root); tests/test_layers.py checks that imports only point down.
"""
