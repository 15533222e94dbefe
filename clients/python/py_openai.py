"""py-openai: `openai.AsyncOpenAI` (its own connection pool: 1000 connections, 100 kept alive),
`asyncio.gather` under a `Semaphore(C)`. With `--retry openai` the SDK retries by itself
(`max_retries=2`, its defaults); under any other policy it is told not to retry and the run's
policy loops around it. Each attempt is numbered and timed by httpx event hooks."""

import asyncio
import inspect
import json
import random

import openai

import asyncbench_client as ab

live = {}  # request index -> ab.Request, for the event hooks


async def on_request(request):
    index = int(request.headers["x-asyncbench-request"])
    req = live[index]
    if len(req.attempts) < req._count:
        # The SDK retries an attempt that got no response (timeout, connection error).
        req.ended(error="transport", message="no response; the SDK retried")
    given = int(request.headers.get("x-asyncbench-attempt", "1"))
    retries = int(request.headers.get("x-stainless-retry-count", "0"))
    req.send()
    request.headers["x-asyncbench-attempt"] = str(given + retries)



async def on_response(response):
    req = live[int(response.request.headers["x-asyncbench-request"])]
    req.ended(status=response.status_code)


async def one_call(w, client, params, extra, index, attempt, req):
    """One SDK call (which may retry inside); the answer's fields."""
    headers = {"x-asyncbench-request": str(index), "x-asyncbench-attempt": str(attempt)}
    if w.stream:
        t0 = ab.now()
        stream = await client.chat.completions.create(**params, extra_body=extra, extra_headers=headers)
        ttft, ttfo, last, last_r, itl, r_itl, usage = None, None, None, None, [], [], None
        async for chunk in stream:
            t = ab.now()
            if chunk.usage:
                usage = chunk.usage
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            # The SDK declares no reasoning field: a server's comes as an extra key.
            extra_keys = delta.model_extra or {}
            thinking = extra_keys.get("reasoning") or extra_keys.get("reasoning_content")
            if (delta.content or thinking) and ttft is None:
                ttft = t - req.attempts_start(t0)
            if thinking:
                if last_r is not None:
                    r_itl.append(t - last_r)
                last_r = t
            if delta.content:
                if ttfo is None:
                    ttfo = t - req.attempts_start(t0)
                else:
                    itl.append(t - last)
                last = t
        answer = {"ttft_ns": ttft, "ttfo_ns": ttfo, "itl_ns": itl, "reasoning_itl_ns": r_itl}
    else:
        r = await client.chat.completions.create(**params, extra_body=extra, extra_headers=headers)
        usage, answer = r.usage, {}
    if usage:
        answer["completion_tokens"] = usage.completion_tokens
        answer["prompt_tokens"] = usage.prompt_tokens
        details = usage.completion_tokens_details
        answer["reasoning_tokens"] = details.reasoning_tokens if details else None
    return {k: v for k, v in answer.items() if v is not None and v != []}


class Request(ab.Request):
    """An ab.Request whose attempts the hooks count."""

    __slots__ = ("_count",)

    def __init__(self, index, intended):
        super().__init__(index, intended)
        self._count = 0

    def send(self):
        self._count += 1
        return super().send()

    def attempts_start(self, fallback):
        return self._sent or fallback


async def call(w, client, names, index, due, rng):
    body = json.loads(w.body(index))
    params = {k: v for k, v in body.items() if k in names}
    extra = {k: v for k, v in body.items() if k not in names} or None
    req = live[index] = Request(index, due)
    try:
        while True:
            attempt = len(req.attempts) + 1
            status = headers = error = answer = None
            try:
                answer = await one_call(w, client, params, extra, index, attempt, req)
                req.attempts[-1]["end_ns"] = ab.now()
                return req.done(answer)
            except openai.APIStatusError as e:
                status, headers = e.status_code, e.response.headers
            except openai.APIError as e:
                error = "timeout" if isinstance(e, openai.APITimeoutError) else ab.error_kind(e.__cause__ or e)
                if len(req.attempts) < req._count:
                    req.ended(error=error, message=repr(e.__cause__ or e))
                else:  # the answer came and then broke
                    req.attempts[-1].update(error=error, end_ns=ab.now())
            wait = w.retry_delay(len(req.attempts), status, headers, error, rng)
            if wait is None:
                return req.done()
            await asyncio.sleep(wait)
    finally:
        del live[index]


async def main():
    w = ab.start()
    if w.method != "POST" or not w.chat:
        ab.fail("py-openai sends chat completions; this workload is a plain GET")
    native = w.retry["name"] == "openai"
    http = openai.DefaultAsyncHttpxClient(verify=w.ssl_context() or True,
                                          event_hooks={"request": [on_request], "response": [on_response]})
    client = openai.AsyncOpenAI(base_url=w.base_url, api_key=w.api_key or "unused", timeout=w.timeout_s,
                                max_retries=w.retry["attempts"] - 1 if native else 0, http_client=http)
    if native:
        w.retry = dict(w.retry, attempts=1)  # the SDK retries; the loop around it does not
    names = set(inspect.signature(client.chat.completions.create).parameters)
    rng = random.Random()
    async with client:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, lambda index, due: call(w, client, names, index, due, rng))


asyncio.run(main())
