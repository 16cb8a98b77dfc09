"""What the store computes when it writes a resource and search reads when it compiles a query.

https://hl7.org/fhir/R4/search.html#ptypes - the SearchParameter registry (from the specification's
definitions, evaluated by a FHIRPath subset), the encodings of search values, their extraction at
write time, and the patient compartment key. Below both fhir_server.store and fhir_server.search:
it imports neither.
"""
