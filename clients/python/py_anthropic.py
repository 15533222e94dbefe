"""py-anthropic: `anthropic.AsyncAnthropic` (its own connection pool: 1000 connections, 100 kept
alive, on httpx2), `asyncio.gather` under a `Semaphore(C)`, for `--api anthropic`. With
`--retry anthropic` the SDK retries by itself (`max_retries=2`, its defaults); under any other
policy it is told not to retry and the run's policy loops around it. Each attempt is numbered
and timed by the HTTP client's event hooks."""

import asyncio
import inspect
import json
import random

import anthropic

import asyncbench_client as ab

sdk = ab.SdkCalls(anthropic.APIStatusError, anthropic.APIError, anthropic.APITimeoutError)


async def one_call(client, params, extra, headers, req):
    """One SDK call (which may retry inside); the answer's fields."""
    if params.get("stream"):
        t0 = ab.now()
        stream = await client.messages.create(**params, extra_body=extra, extra_headers=headers)
        ttft, ttfo, last, last_r, itl, r_itl, prompt, usage = None, None, None, None, [], [], None, None
        async for event in stream:
            t = ab.now()
            if event.type == "message_start":
                prompt = event.message.usage.input_tokens
            elif event.type == "message_delta":
                usage = event.usage
            elif event.type == "content_block_delta":
                text = getattr(event.delta, "text", None)
                thinking = getattr(event.delta, "thinking", None)
                if (text or thinking) and ttft is None:
                    ttft = t - req.attempts_start(t0)
                if thinking:
                    if last_r is not None:
                        r_itl.append(t - last_r)
                    last_r = t
                if text:
                    if ttfo is None:
                        ttfo = t - req.attempts_start(t0)
                    else:
                        itl.append(t - last)
                    last = t
        answer = {"ttft_ns": ttft, "ttfo_ns": ttfo, "itl_ns": itl, "reasoning_itl_ns": r_itl, "prompt_tokens": prompt}
    else:
        r = await client.messages.create(**params, extra_body=extra, extra_headers=headers)
        usage = r.usage
        answer = {"prompt_tokens": usage.input_tokens}
    if usage:
        answer["completion_tokens"] = usage.output_tokens
        details = getattr(usage, "output_tokens_details", None)
        answer["reasoning_tokens"] = getattr(details, "thinking_tokens", None) if details else None
    return {k: v for k, v in answer.items() if v is not None and v != []}


async def main():
    w = ab.start()
    if w.method != "POST" or w.api != "anthropic":
        ab.fail("py-anthropic sends Anthropic Messages requests; run it with --api anthropic")
    native = w.retry["name"] == "anthropic"
    http = anthropic.DefaultAsyncHttpxClient(verify=w.ssl_context() or True, event_hooks=sdk.hooks())
    # The SDK appends /v1/messages to its base URL; the workload's ends at /v1.
    base = w.base_url[:-3] if w.base_url.endswith("/v1") else w.base_url
    client = anthropic.AsyncAnthropic(base_url=base, api_key=w.api_key or "unused", timeout=w.timeout_s,
                                      max_retries=w.retry["attempts"] - 1 if native else 0, http_client=http)
    if native:
        w.retry = dict(w.retry, attempts=1)  # the SDK retries; the loop around it does not
    names = set(inspect.signature(client.messages.create).parameters)
    rng = random.Random()

    def call(index, due):
        body = json.loads(w.body(index))
        params = {k: v for k, v in body.items() if k in names}
        extra = {k: v for k, v in body.items() if k not in names} or None
        return sdk.call(w, index, due, lambda headers, req: one_call(client, params, extra, headers, req), rng)

    async with client:
        ab.ready()
        for phase in w.phases:
            await ab.gather_phase(phase, w.concurrency, call)


asyncio.run(main())
