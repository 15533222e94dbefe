"""py-blocking-in-async: the anti-pattern: a blocking `requests` call inside coroutines run by
`asyncio.gather`. Each call holds the event loop, so nothing else runs while it waits."""

import asyncio

import requests

import asyncbench_client as ab


async def main():
    w = ab.start()
    session = requests.Session()

    async def call(index, due):
        ab.call_requests(w, session, index, due)  # blocks the event loop

    ab.ready()
    for phase in w.phases:
        await ab.gather_phase(phase, w.concurrency, call)


asyncio.run(main())
