"""py-to-thread: `asyncio.to_thread` around the blocking `requests` call, under
`asyncio.gather`: the calls run on the default executor's threads (min(32, cores + 4))."""

import asyncio
import threading

import requests

import asyncbench_client as ab


async def main():
    w = ab.start()
    local = threading.local()

    def blocking(index, due):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        ab.call_requests(w, local.session, index, due)

    async def call(index, due):
        await asyncio.to_thread(blocking, index, due)

    ab.ready()
    for phase in w.phases:
        await ab.gather_phase(phase, w.concurrency, call)


asyncio.run(main())
