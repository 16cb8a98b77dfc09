"""The worker's heap once the app is built: what start-up made is set aside from the collector.

https://docs.python.org/3/library/gc.html#gc.freeze - CPython's cyclic collector now and then
walks every object it tracks (a full pass), in whichever request happens to allocate past its
threshold. A worker's start-up makes about 100,000 such objects (models, schemas, routes, the
profiles) that live as long as the worker: walking them cost a full pass 50 to 100 ms on the
benchmark machine, paid by one request in a few dozen (the patient search's p99 at 100,000
documents). Frozen once start-up is over, they are left out of every pass; what requests make is
collected as before.
"""

import gc


def settle() -> None:
    """Collect start-up's garbage, then freeze what is left (call once the app is built)."""
    gc.collect()
    gc.freeze()
