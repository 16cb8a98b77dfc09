"""Carnet's FHIR R4 (4.0.1) RESTful server: https://hl7.org/fhir/R4/http.html"""
