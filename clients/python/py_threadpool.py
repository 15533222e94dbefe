"""py-threadpool: `ThreadPoolExecutor(max_workers=C)` + `requests`, a `Session` per thread."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import asyncbench_client as ab

w = ab.start()
local = threading.local()
lock = threading.Lock()


def call(phase, index, due):
    if not phase.may_issue():
        return
    with lock:
        phase.issued += 1
    if not hasattr(local, "session"):
        local.session = requests.Session()
    ab.call_requests(w, local.session, index, due)


with ThreadPoolExecutor(max_workers=max(1, w.concurrency)) as pool:
    ab.ready()
    for phase in w.phases:
        phase.begin()
        futures = []
        for i, index in enumerate(phase.indexes):
            due = phase.due_ns(i)
            if due is not None and due > ab.now():
                time.sleep((due - ab.now()) / 1e9)
            futures.append(pool.submit(call, phase, index, due))
        for f in futures:
            f.result()
        phase.done()
