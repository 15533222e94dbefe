"""py-httpx: one `httpx.AsyncClient` with its default pool limits (at most 100 connections,
20 kept alive), `asyncio.gather` under a `Semaphore(C)`, the run's retry policy in a loop."""

import asyncio
import random

import httpx

import asyncbench_client as ab


async def call(w, client, index, due, rng):
    req = ab.Request(index, due)
    while True:
        attempt = req.send()
        status = headers = error = answer = None
        try:
            async with client.stream(w.method, w.url, content=w.body(index),
                                     headers=w.headers_for(index, attempt)) as r:
                status, headers = r.status_code, r.headers
                if 200 <= status < 300 and w.stream:
                    s = ab.Stream(req._sent)
                    async for raw in r.aiter_lines():
                        s.line(raw.encode())
                    error, answer = s.answer()
                elif 200 <= status < 300:
                    error, answer = ab.read_json(w, await r.aread())
                else:
                    await r.aread()
                if answer is not None:
                    answer["http_version"] = r.http_version
            req.ended(status=status, error=error)
        except httpx.HTTPError as e:
            error = ab.error_kind(e)
            req.ended(error=error, message=repr(e))
        if error is None and 200 <= status < 300:
            return req.done(answer)
        wait = w.retry_delay(attempt, status, headers, error, rng)
        if wait is None:
            return req.done()
        await asyncio.sleep(wait)


async def main():
    w = ab.start()
    rng = random.Random()
    async with httpx.AsyncClient(timeout=w.timeout_s, verify=w.ssl_context() or True) as client:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, lambda index, due: call(w, client, index, due, rng))


asyncio.run(main())
