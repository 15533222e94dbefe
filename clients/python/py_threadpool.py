"""py-threadpool: `ThreadPoolExecutor(max_workers=C)` + `requests`, a `Session` per thread."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import asyncbench_client as ab

w = ab.start()
local = threading.local()
lock = threading.Lock()


def call(phase, gate, index, due):
    with gate:
        if not phase.may_issue():
            return
        with lock:
            phase.issued += 1
        if not hasattr(local, "session"):
            local.session = requests.Session()
        ab.call_requests(w, local.session, index, due)


def open_slots(phase, slots, gate):
    for _ in phase.open_slots(slots, gate.release, time.sleep):
        pass


with ThreadPoolExecutor(max_workers=max(1, w.concurrency)) as pool:
    ab.ready()
    for phase in w.phases:
        phase.begin()
        slots = max(1, w.concurrency)
        # --ramp: one worker busy at the start, one more each time a slot opens.
        gate = threading.Semaphore(1 if phase.ramped(slots) else slots)
        if phase.ramped(slots):
            threading.Thread(target=open_slots, args=(phase, slots, gate), daemon=True).start()
        futures = []
        for i, index in enumerate(phase.indexes):
            due = phase.due_ns(i)
            if due is not None and due > ab.now():
                ab.pause((due - ab.now()) / 1e9)
            futures.append(pool.submit(call, phase, gate, index, due))
        for f in futures:
            f.result()
        phase.done()
