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

sdk = ab.SdkCalls(openai.APIStatusError, openai.APIError, openai.APITimeoutError)


async def one_call(w, client, params, extra, headers, req):
    """One SDK call (which may retry inside); the answer's fields."""
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


async def main():
    w = ab.start()
    if w.method != "POST" or not w.chat:
        ab.fail("py-openai sends chat completions; this workload is a plain GET")
    native = w.retry["name"] == "openai"
    http = openai.DefaultAsyncHttpxClient(verify=w.ssl_context() or True, event_hooks=sdk.hooks())
    client = openai.AsyncOpenAI(base_url=w.base_url, api_key=w.api_key or "unused", timeout=w.timeout_s,
                                max_retries=w.retry["attempts"] - 1 if native else 0, http_client=http)
    if native:
        w.retry = dict(w.retry, attempts=1)  # the SDK retries; the loop around it does not
    names = set(inspect.signature(client.chat.completions.create).parameters)
    rng = random.Random()

    def call(index, due):
        body = json.loads(w.body(index))
        params = {k: v for k, v in body.items() if k in names}
        extra = {k: v for k, v in body.items() if k not in names} or None
        return sdk.call(w, index, due, lambda headers, req: one_call(w, client, params, extra, headers, req), rng)

    async with client:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, call)


asyncio.run(main())
