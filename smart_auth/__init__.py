"""Carnet's authorization server: SMART App Launch 2 and Backend Services (https://hl7.org/fhir/smart-app-launch/)."""
