"""asyncbench's external-client protocol, version 1: the shared half of every Python client.

The protocol (docs/client-protocol.md): asyncbench writes the workload as one JSON line on stdin;
the client writes `{"type":"ready"}` once set up, one `{"type":"request",...}` line per logical
request as it finishes, `{"type":"wait",...}` before a wait of 30 s or more to retry, and
`{"type":"phase",...}` at the end of each phase. Every time is
`time.monotonic_ns()` (CLOCK_MONOTONIC, the harness's clock). This module holds what every
pattern shares (reading the workload, the headers that number each attempt, the retry policy,
reading an answer, writing lines) so that each client file shows only its execution model.
"""

import json
import random
import signal
import sys
import threading
import time

now = time.monotonic_ns

_out_lock = threading.Lock()


def _write(obj):
    line = json.dumps(obj, separators=(",", ":")) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def fail(message):
    """Says why this client cannot run the workload, and exits 3."""
    _write({"type": "error", "message": message})
    sys.exit(3)


# When the running phase ends, if time ends it (set by `Phase.begin`): no retry after it.
_PHASE_END_NS = None

# Set by SIGTERM (asyncbench passes its stop on so) or SIGINT: no new request and no retry; a
# wait (for a retry or a due time) ends at once, the request ending with its last attempt's
# outcome; requests in flight finish within the harness's grace period, and each phase's line
# says what it issued. Without it a stop killed the client, and the requests it had sent or was
# waiting to retry were never reported.
_STOPPED = False


def _stop(signum, frame):
    global _STOPPED
    _STOPPED = True


def pause(seconds):
    """Sleeps `seconds` in a thread, ending early at a stop; whether it slept them all."""
    end = time.monotonic() + max(0.0, seconds)
    while not _STOPPED:
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, 0.1))
    return False


async def pause_async(seconds):
    """The same in a coroutine."""
    import asyncio

    end = time.monotonic() + max(0.0, seconds)
    while not _STOPPED:
        left = end - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.1))
    return False


class Phase:
    """One phase: its requests' indexes and, in an open loop, when each is due."""

    def __init__(self, number, p):
        self.number = number
        self.measured = p["measured"]
        self.limit_s = p.get("limit_s")
        first, stride, count = p["first"], p["stride"], p["count"]
        self.indexes = range(first, first + count * stride, stride)
        self.schedule_s = p.get("schedule_s")
        self.ramp_s = p.get("ramp_s")
        self.t0 = None
        self.issued = 0

    def begin(self):
        global _PHASE_END_NS
        self.t0 = now()
        # No attempt is sent after a time-limited phase ends (the Rust strategies' rule).
        _PHASE_END_NS = None if self.limit_s is None else self.t0 + int(self.limit_s * 1e9)

    def due_ns(self, i):
        """When request i of the phase is due (open loop), else None."""
        if self.schedule_s is None:
            return None
        return self.t0 + int(self.schedule_s[i] * 1e9)

    def ramped(self, slots):
        """Whether this phase opens its `slots` over a ramp (--ramp, closed loop)."""
        return bool(self.ramp_s) and self.schedule_s is None and slots > 1

    def open_slots(self, slots, release, sleep):
        """--ramp: opens slots 1.. at k * ramp / slots after the phase's start, calling
        `release` (a semaphore's) at each; `sleep` is the waiting function (a coroutine's or a
        thread's). An open slot stays open: during the ramp at most the open slots are busy."""
        for k in range(1, slots):
            yield sleep(max(0, self.t0 + int(self.ramp_s * 1e9 * k / slots) - now()) / 1e9)
            release()

    def may_issue(self):
        """False once the phase's time limit has passed, or a stop came (no new request)."""
        return not _STOPPED and (self.limit_s is None or (now() - self.t0) < self.limit_s * 1e9)

    def done(self):
        _write({"type": "phase", "phase": self.number, "issued": self.issued,
                "start_ns": self.t0, "end_ns": now()})


class Workload:
    """The workload message, read from stdin."""

    def __init__(self, msg):
        if msg.get("protocol") != "asyncbench-client" or msg.get("version") != 1:
            fail("this client speaks asyncbench-client protocol version 1")
        self.url = msg["url"]
        self.base_url = msg["base_url"]
        self.method = msg["method"]
        self.headers = dict(msg["headers"])
        self.api_key = msg.get("api_key")
        self.chat = msg["chat"]
        self.api = msg.get("api", "openai")
        self.stream = msg["stream"]
        self.bodies = [b.encode() for b in msg["bodies"]]
        self.concurrency = msg["concurrency"]
        self.timeout_s = msg["timeout_s"]
        self.retry = msg["retry"]
        self.phases = [Phase(i, p) for i, p in enumerate(msg["phases"])]
        self.ca_pem = msg.get("ca_pem")
        self.ca_file = msg.get("ca_file")
        self.insecure = msg.get("insecure", False)

    def ssl_context(self):
        """HTTPS trust as the run says (`--ca-cert`, the mock's certificate, `--insecure`); None
        leaves each library's default."""
        import ssl

        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.ca_pem:
            ctx = ssl.create_default_context()
            ctx.load_verify_locations(cadata=self.ca_pem)
            return ctx
        return None

    def verify(self):
        """The same for `requests`, which takes a file of certificates (written by asyncbench)
        or False. Passed with each call: `session.verify` loses to $REQUESTS_CA_BUNDLE."""
        if self.insecure:
            return False
        return self.ca_file or True

    def body(self, index):
        return self.bodies[index % len(self.bodies)] if self.bodies else None

    def headers_for(self, index, attempt):
        """The headers of one attempt: the run's, plus the request's and attempt's numbers (the
        mock keys its faults on them, so every client meets the same ones)."""
        h = dict(self.headers)
        h["x-asyncbench-request"] = str(index)
        h["x-asyncbench-attempt"] = str(attempt)
        return h

    def retry_delay(self, attempt, status=None, headers=None, error=None, rng=random):
        """The harness's retry policy (`RetryPolicy::next_delay` in src/retry.rs): seconds to
        wait after attempt number `attempt` failed, or None to give up. A failure is a status
        (with its headers) or an error kind."""
        p = self.retry
        if attempt >= p["attempts"]:
            return None
        after = None
        if error is None:
            headers = headers or {}
            should = headers.get("x-should-retry")
            after = _retry_after(headers)
            if p["obey_should_retry"] and should in ("true", "false"):
                retried = should == "true"
            elif (p["retry_after_cap_s"] is not None and after is not None and after > p["retry_after_cap_s"]
                  and not p.get("retry_after_clamp")):
                retried = False
            else:
                retried = status in p["statuses"] or (p["retry_server_errors"] and status >= 500)
        elif error in ("timeout", "refused", "reset", "closed", "transport"):
            retried = p["retry_transport"]
        elif error in ("decode", "stream_error"):
            retried = p["retry_server_errors"]
        else:
            retried = False
        if not retried:
            return None
        cap = p["retry_after_cap_s"]
        if cap is not None and after is not None and 0 < after and (after <= cap or p.get("retry_after_clamp")):
            return min(after, cap)
        delay = min(p["initial_s"] * p["factor"] ** (attempt - 1 + p["first_exponent"]), p["max_delay_s"])
        if p["jitter"] == "full":
            delay *= rng.random()
        elif p["jitter"] == "reduce":
            delay *= 1 - p["jitter_f"] * rng.random()
        return delay


def _retry_after(headers):
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return float(ms) / 1000
        s = headers.get("retry-after")
        return float(s) if s is not None else None
    except ValueError:
        return None


def start():
    """Reads the workload from stdin, a stop (SIGTERM, SIGINT) handled from here on."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return Workload(json.loads(sys.stdin.readline()))


def ready():
    """Set up: the harness starts its clock for the run now."""
    _write({"type": "ready"})


class Request:
    """One logical request's attempts, written as one line when it ends."""

    __slots__ = ("index", "intended", "start", "attempts", "_sent")

    def __init__(self, index, intended=None):
        self.index = index
        self.intended = intended
        self.start = None
        self.attempts = []
        self._sent = None

    def send(self):
        """An attempt is being sent: returns its number (1-based)."""
        self._sent = now()
        if self.start is None:
            self.start = self._sent
        return len(self.attempts) + 1

    def ended(self, status=None, error=None, message=None):
        """The attempt now in flight ended so."""
        a = {"start_ns": self._sent, "end_ns": now()}
        if status is not None:
            a["status"] = status
        if error is not None:
            a["error"] = error
        if message:
            a["message"] = message[:200]
        self.attempts.append(a)

    def done(self, answer=None):
        """Writes the request's line; `answer` holds what a successful answer carried."""
        line = {"type": "request", "index": self.index, "start_ns": self.start,
                "end_ns": self.attempts[-1]["end_ns"]}
        if len(self.attempts) == 1:
            # The short form: one attempt over the whole request, its fields on the line.
            a = self.attempts[0]
            line.update((k, a[k]) for k in ("status", "error", "message") if k in a)
        else:
            line["attempts"] = self.attempts
        if self.intended is not None:
            line["intended_ns"] = self.intended
        if answer:
            line.update(answer)
        _write(line)


def error_kind(exc):
    """The protocol's error kind of a client exception, from its type and message."""
    name = type(exc).__name__.lower()
    text = str(exc).lower()
    if "timeout" in name or "timed out" in text or "timeout" in text:
        return "timeout"
    if "refused" in text:
        return "refused"
    if "reset" in text:
        return "reset"
    if ("disconnect" in name or "closed" in text or "disconnect" in text or "incomplete" in text
            or "not completed" in text):
        return "closed"
    return "transport"


# How a transport failure in an answer's body begins its sample, in the Rust clients' words
# (the run's diagnosis reads it: the target was reached and began answering).
CUT_IN_BODY = "the answer was cut before its body's end"


def failure(error, exc, status=None, in_body=False):
    """The sample of an attempt that raised `exc`: after the answer's head came (`status`, or
    `in_body` where the line gives the status itself), a transport failure says the answer was
    cut. `requests` reads the body before it returns the head: its ChunkedEncodingError comes
    from the body only."""
    in_body = in_body or status is not None or type(exc).__name__ == "ChunkedEncodingError"
    if in_body and error in ("reset", "closed", "transport"):
        head = f" (HTTP {status})" if status is not None else ""
        return f"{CUT_IN_BODY}{head}: {exc!r}"
    return repr(exc)


class Stream:
    """Reads a streamed answer's server-sent events as they arrive (OpenAI's chunks ending with
    `[DONE]`, or Anthropic's events ending with `message_stop`): the first token's time (of any
    kind), the first output token's, the gaps between content chunks and between reasoning
    chunks, usage, and whether the stream was whole."""

    def __init__(self, sent_ns):
        self.sent = sent_ns
        self.ttft = None
        self.ttfo = None
        self.last = None
        self.last_reasoning = None
        self.itl = []
        self.reasoning_itl = []
        self.usage = None
        self.finished = False
        self.error = None
        self.bytes = 0
        self.events = 0

    def line(self, raw):
        self.bytes += len(raw) + 1
        if not raw.startswith(b"data:"):
            return
        data = raw[5:].strip()
        if not data:
            return
        self.events += 1
        if data == b"[DONE]":
            self.finished = True
            return
        t = now()
        try:
            event = json.loads(data)
        except ValueError:
            self.error = "decode"
            return
        if "error" in event:
            self.error = "stream_error"
            return
        kind = event.get("type")
        if kind == "message_stop":
            self.finished = True
            return
        # Anthropic's totals are cumulative: a later usage replaces the fields it has.
        for usage in (event.get("usage"), (event.get("message") or {}).get("usage")):
            if usage:
                self.usage = dict(self.usage or {}, **usage)
        deltas = [choice.get("delta") or {} for choice in event.get("choices") or []]
        if kind == "content_block_delta":
            deltas.append(event.get("delta") or {})
        content = any(d.get("content") or d.get("text") for d in deltas)
        reasoning = any(d.get("reasoning") or d.get("reasoning_content") or d.get("thinking") for d in deltas)
        if (content or reasoning) and self.ttft is None:
            self.ttft = t - self.sent
        if reasoning:
            if self.last_reasoning is not None:
                self.reasoning_itl.append(t - self.last_reasoning)
            self.last_reasoning = t
        if content:
            if self.ttfo is None:
                self.ttfo = t - self.sent
            else:
                self.itl.append(t - self.last)
            self.last = t

    def answer(self):
        """(error kind or None, the line's answer fields)."""
        if self.error:
            return self.error, None
        if not self.events:
            return "decode", None  # not a stream at all (a JSON answer, a page): as the harness
        if not self.finished:
            return "closed", None
        return None, _usage(self.usage, {"ttft_ns": self.ttft, "ttfo_ns": self.ttfo, "itl_ns": self.itl,
                                         "reasoning_itl_ns": self.reasoning_itl, "bytes": self.bytes})


def _usage(usage, fields):
    usage = usage or {}
    fields["completion_tokens"] = usage.get("completion_tokens", usage.get("output_tokens"))
    fields["prompt_tokens"] = usage.get("prompt_tokens", usage.get("input_tokens"))
    details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    fields["reasoning_tokens"] = details.get("reasoning_tokens", details.get("thinking_tokens"))
    return {k: v for k, v in fields.items() if v is not None and v != []}


def _is_answer(api, doc):
    """Whether a whole answer is the API's: a chat completion's choices, Anthropic's message,
    or the vectors of an embeddings answer."""
    if api == "anthropic":
        return doc.get("type") == "message"
    if api == "embeddings":
        return isinstance(doc.get("data"), list) and len(doc["data"]) > 0
    return bool(doc.get("choices"))


def read_json(w, body):
    """(error kind or None, answer fields) of a whole answer body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "decode", None
    if w.chat and not (isinstance(doc, dict) and _is_answer(w.api, doc)):
        return "decode", None
    return None, _usage(doc.get("usage") if isinstance(doc, dict) else None, {"bytes": len(body)})


class Attempt:
    """What one attempt brought: its status and headers, or an error kind, and a good answer's
    fields."""

    __slots__ = ("status", "headers", "error", "answer")

    def __init__(self):
        self.status = self.headers = self.error = self.answer = None


def _after(w, req, number, a, rng):
    """Ends the request (True) or says how long to wait before the next attempt."""
    if a.error is None and 200 <= a.status < 300:
        req.done(a.answer)
        return True, None
    wait = next_wait(w, req.index, number, a.status, a.headers, a.error, rng)
    if wait is None:
        req.done()
        return True, None
    return False, wait


def next_wait(w, index, attempt, status, headers, error, rng):
    """Seconds to wait before request `index`'s next attempt after attempt number `attempt`
    failed, or None when none follows (the policy gives up, the phase would end first, or a
    stop came); a long wait is said."""
    wait = w.retry_delay(attempt, status, headers, error, rng)
    if wait is None or past_phase(wait):
        return None
    say_wait(w, index, wait, headers, error)
    return wait


# A wait before a retry this long or longer is said (a `wait` line) as it begins: the harness
# tells it at once, and does not take the silence for a hang (`LONG_WAIT` in its runner).
LONG_WAIT_S = 30


def say_wait(w, index, wait, headers=None, error=None):
    """Says a wait of LONG_WAIT_S or more before request `index`'s next attempt, and whether a
    server's Retry-After (obeyed by the policy) set it."""
    if wait >= LONG_WAIT_S:
        after = _retry_after(headers or {}) if error is None else None
        _write({"type": "wait", "index": index, "seconds": wait,
                "retry_after": after is not None and w.retry["retry_after_cap_s"] is not None})


def past_phase(wait):
    """Whether an attempt after `wait` seconds would fall past the running phase's end (or a
    stop came)."""
    return _STOPPED or (_PHASE_END_NS is not None and now() + wait * 1e9 >= _PHASE_END_NS)


# What an answer that came but failed was, in the Rust clients' words (the error's sample in
# the report; without it the sample was the bare "HTTP 200").
ANSWER_ERRORS = {
    "closed": "stream ended before its end event ([DONE] or message_stop)",
    "decode": "invalid response: not the answer asked for (a body not of the API, or a stream without events)",
    "stream_error": "the stream carried an error event",
}


def retrying(w, index, intended, send, errors, rng=random):
    """One logical request with a blocking client: `send(req, number, attempt)` makes one
    attempt and fills `attempt`; an exception of `errors` is a failed attempt; the run's retry
    policy decides what follows."""
    req = Request(index, intended)
    while True:
        number, a = req.send(), Attempt()
        try:
            send(req, number, a)
            req.ended(status=a.status, error=a.error, message=ANSWER_ERRORS.get(a.error))
        except errors as e:
            a.error = error_kind(e)
            req.ended(error=a.error, message=failure(a.error, e, a.status))
        done, wait = _after(w, req, number, a, rng)
        if done:
            return
        if not pause(wait):
            return req.done()


async def retrying_async(w, index, intended, send, errors, rng=random):
    """The same for an async client: `send` is a coroutine function, the wait `asyncio.sleep`."""
    import asyncio

    req = Request(index, intended)
    while True:
        number, a = req.send(), Attempt()
        try:
            await send(req, number, a)
            req.ended(status=a.status, error=a.error, message=ANSWER_ERRORS.get(a.error))
        except errors as e:
            a.error = error_kind(e)
            req.ended(error=a.error, message=failure(a.error, e, a.status))
        done, wait = _after(w, req, number, a, rng)
        if done:
            return
        if not await pause_async(wait):
            return req.done()


def call_requests(w, session, index, intended=None, rng=random):
    """One logical request with the blocking `requests` client, retried by the run's policy:
    what py-sequential, py-threadpool, py-blocking-in-async and py-to-thread all call."""
    import requests

    def send(req, number, a):
        with session.request(w.method, w.url, data=w.body(index), headers=w.headers_for(index, number),
                             timeout=w.timeout_s, stream=w.stream, verify=w.verify(),
                             allow_redirects=False) as r:  # a redirect is an answer, as in every strategy
            a.status, a.headers = r.status_code, r.headers
            if 200 <= a.status < 300 and w.stream:
                s = Stream(req._sent)
                for raw in r.iter_lines():
                    s.line(raw)
                a.error, a.answer = s.answer()
            elif 200 <= a.status < 300:
                a.error, a.answer = read_json(w, r.content)
            else:
                r.content  # read the error body, as a client does

    retrying(w, index, intended, send, requests.RequestException, rng)


class SdkCalls:
    """What the SDK clients (py-openai, py-anthropic) share: the SDK sends each attempt itself,
    so its HTTP client's event hooks number and time them (`x-stainless-retry-count` renumbers
    the SDK's own retries), and one loop around the SDK call applies the run's retry policy
    (the SDK is told to retry only under its own preset). `status_error` and `api_error` are the
    SDK's exception classes for an HTTP status and for anything else, `timeout_error` its
    timeout's."""

    def __init__(self, status_error, api_error, timeout_error):
        self.live = {}  # request index -> SdkRequest, for the event hooks
        self.status_error, self.api_error, self.timeout_error = status_error, api_error, timeout_error

    def hooks(self):
        """The `event_hooks` for the SDK's HTTP client."""
        return {"request": [self.on_request], "response": [self.on_response]}

    async def on_request(self, request):
        req = self.live[int(request.headers["x-asyncbench-request"])]
        if len(req.attempts) < req.count:
            # The SDK retries an attempt that got no response (timeout, connection error).
            req.ended(error="transport", message="no response; the SDK retried")
        given = int(request.headers.get("x-asyncbench-attempt", "1"))
        retries = int(request.headers.get("x-stainless-retry-count", "0"))
        req.send()
        request.headers["x-asyncbench-attempt"] = str(given + retries)

    async def on_response(self, response):
        self.live[int(response.request.headers["x-asyncbench-request"])].ended(status=response.status_code)

    async def call(self, w, index, due, one_call, rng):
        """One logical request: `one_call(headers, req)` makes one SDK call (which may retry
        inside) and returns the answer's fields."""
        import asyncio

        req = self.live[index] = SdkRequest(index, due)
        try:
            while True:
                attempt = len(req.attempts) + 1
                status = headers = error = None
                headers_out = {"x-asyncbench-request": str(index), "x-asyncbench-attempt": str(attempt)}
                try:
                    answer = await one_call(headers_out, req)
                    req.attempts[-1]["end_ns"] = now()
                    return req.done(answer)
                except self.status_error as e:
                    if 200 <= e.status_code < 300:  # an error event in a stream
                        req.attempts[-1].update(error="stream_error", message=str(e)[:200], end_ns=now())
                        error = "stream_error"
                    else:
                        status, headers = e.status_code, e.response.headers
                except self.api_error as e:
                    error = "timeout" if isinstance(e, self.timeout_error) else error_kind(e.__cause__ or e)
                    if len(req.attempts) < req.count:
                        req.ended(error=error, message=repr(e.__cause__ or e))
                    else:  # the answer came and then broke
                        cause = e.__cause__ or e
                        req.attempts[-1].update(error=error, end_ns=now(),
                                                message=failure(error, cause, in_body=True)[:200])
                wait = next_wait(w, index, len(req.attempts), status, headers, error, rng)
                if wait is None or not await pause_async(wait):
                    return req.done()
        finally:
            del self.live[index]


class SdkRequest(Request):
    """A Request whose attempts the SDK's event hooks count."""

    __slots__ = ("count",)

    def __init__(self, index, intended):
        super().__init__(index, intended)
        self.count = 0

    def send(self):
        self.count += 1
        return super().send()

    def attempts_start(self, fallback):
        """When the attempt in flight was sent (`fallback` before the hook saw it)."""
        return self._sent or fallback


async def gather_phase(phase, concurrency, call):
    """The asyncio pattern every async client shares: one coroutine per request, all started
    with `asyncio.gather`, at most `concurrency` in flight under a `Semaphore` (0: no
    semaphore, every request at once). In an open loop each waits for its due time first."""
    import asyncio
    import contextlib

    sem = asyncio.Semaphore(concurrency) if concurrency else contextlib.nullcontext()

    ramped = phase.ramped(concurrency)
    if ramped:
        # --ramp: one slot open at the start, the others opened by a task of their own.
        sem = asyncio.Semaphore(1)

    async def open_slots():
        for wait in phase.open_slots(concurrency, sem.release, asyncio.sleep):
            await wait

    async def one(i, index):
        due = phase.due_ns(i)
        if due is not None:
            await pause_async((due - now()) / 1e9)
        async with sem:
            if not phase.may_issue():
                return
            phase.issued += 1
            await call(index, due)

    phase.begin()
    opener = asyncio.ensure_future(open_slots()) if ramped else None
    await asyncio.gather(*(one(i, index) for i, index in enumerate(phase.indexes)))
    if opener is not None:
        opener.cancel()
    phase.done()
