"""py-httpx: one `httpx.AsyncClient` with its default pool limits (at most 100 connections,
20 kept alive), `asyncio.gather` under a `Semaphore(C)`, the run's retry policy in a loop."""

import asyncio
import random

import httpx

import asyncbench_client as ab


async def call(w, client, index, due, rng):
    """One request, retried by the run's policy."""

    async def send(req, number, a):
        async with client.stream(w.method, w.url, content=w.body(index),
                                 headers=w.headers_for(index, number)) as r:
            a.status, a.headers = r.status_code, r.headers
            if 200 <= a.status < 300 and w.stream:
                s = ab.Stream(req._sent)
                async for raw in r.aiter_lines():
                    s.line(raw.encode())
                a.error, a.answer = s.answer()
            elif 200 <= a.status < 300:
                a.error, a.answer = ab.read_json(w, await r.aread())
            else:
                await r.aread()
            if a.answer is not None:
                a.answer["http_version"] = r.http_version

    await ab.retrying_async(w, index, due, send, httpx.HTTPError, rng)


async def main():
    w = ab.start()
    rng = random.Random()
    async with httpx.AsyncClient(timeout=w.timeout_s, verify=w.ssl_context() or True) as client:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, lambda index, due: call(w, client, index, due, rng))


asyncio.run(main())
