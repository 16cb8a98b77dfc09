"""The national record's access policy: who may read and write what (DOMAIN.md, ARCHITECTURE.md)."""
