"""The patient's health profile: what the server derives and keeps whole around the record's
entries (BMI, the one trusted person, the one set of advance directives) and the `$summary` that
gathers it. docs/domain.md#the-patients-profile says which rule comes from where.
"""
