"""The national record's access policy: who may read and write what.

docs/domain.md#who-reads-a-record, docs/architecture.md#the-access-policy-in-every-query
"""
