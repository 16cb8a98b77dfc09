"""Bringing content into the record: IHE MHD ITI-65 (https://profiles.ihe.net/ITI/MHD/ITI-65.html) and bulk NDJSON import."""
