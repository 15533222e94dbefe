"""py-sequential: one `requests.Session`, one call after another (the article's sync loop)."""

import requests

import asyncbench_client as ab

w = ab.start()
session = requests.Session()
ab.ready()
for phase in w.phases:
    phase.begin()
    for i, index in enumerate(phase.indexes):
        due = phase.due_ns(i)
        if due is not None and due > ab.now():
            ab.pause((due - ab.now()) / 1e9)
        if not phase.may_issue():
            break
        phase.issued += 1
        ab.call_requests(w, session, index, due)
    phase.done()
