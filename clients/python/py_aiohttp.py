"""py-aiohttp: the article's async code: one `aiohttp.ClientSession` (its default connector: at
most 100 connections), `asyncio.gather` under a `Semaphore(C)`. With `--retry aiohttp` the
retries are aiohttp_retry's `ExponentialRetry`, configured as the article does; under any other
policy, the run's policy in a plain loop."""

import asyncio
import random

import aiohttp
from aiohttp_retry import ExponentialRetry, RetryClient

import asyncbench_client as ab

ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


async def read(w, r, req):
    """(error kind or None, answer fields) of a response."""
    if not 200 <= r.status < 300:
        await r.read()
        return None, None
    if w.stream:
        s = ab.Stream(req._sent)
        async for raw in r.content:
            s.line(raw.rstrip(b"\r\n"))
        return s.answer()
    return ab.read_json(w, await r.read())


async def call_plain(w, session, index, due, rng):
    """One request, retried by the run's policy."""

    async def send(req, number, a):
        async with session.request(w.method, w.url, data=w.body(index),
                                   headers=w.headers_for(index, number),
                                   allow_redirects=False) as r:  # a redirect is an answer
            a.status, a.headers = r.status, r.headers
            a.error, a.answer = await read(w, r, req)

    await ab.retrying_async(w, index, due, send, ERRORS, rng)


def tracing():
    """Every attempt aiohttp_retry sends, numbered and timed (it retries inside one call)."""
    trace = aiohttp.TraceConfig()

    async def start(session, ctx, params):
        params.headers["x-asyncbench-attempt"] = str(ctx.trace_request_ctx["req"].send())

    async def end(session, ctx, params):
        ctx.trace_request_ctx["req"].ended(status=params.response.status)

    async def failed(session, ctx, params):
        ctx.trace_request_ctx["req"].ended(error=ab.error_kind(params.exception), message=repr(params.exception))

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(failed)
    return trace


async def call_retrying(w, client, index, due):
    """One request through aiohttp_retry's RetryClient."""
    req = ab.Request(index, due)
    error = answer = None
    try:
        async with client.request(w.method, w.url, data=w.body(index), headers=w.headers_for(index, 1),
                                  trace_request_ctx={"req": req}, allow_redirects=False) as r:
            try:
                error, answer = await read(w, r, req)
            except ERRORS as e:
                error = ab.error_kind(e)
            last = req.attempts[-1]
            last["end_ns"] = ab.now()
            if error:
                last["error"] = error
    except ERRORS:
        pass  # the trace recorded the attempt that raised
    if not req.attempts:
        req.send()
        req.ended(error="transport", message="no attempt was sent")
    req.done(None if error else answer)


async def main():
    w = ab.start()
    rng = random.Random()
    policy = w.retry
    native = policy["name"] == "aiohttp"
    ctx = w.ssl_context()
    # trust_env: the run's proxy (the harness sets the variables to it, or clears them), as the
    # other clients of the run go through it; aiohttp reads none by default.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=w.timeout_s),
                                    connector=aiohttp.TCPConnector(ssl=ctx) if ctx else None,
                                    trace_configs=[tracing()] if native else None,
                                    trust_env=True)
    if native:
        client = RetryClient(client_session=session, retry_options=ExponentialRetry(
            attempts=policy["attempts"], start_timeout=policy["initial_s"], max_timeout=policy["max_delay_s"],
            factor=policy["factor"], statuses=set(policy["statuses"])))

        async def call(index, due):
            await call_retrying(w, client, index, due)
    else:
        async def call(index, due):
            await call_plain(w, session, index, due, rng)

    async with session:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, call)


asyncio.run(main())
