// An external client in JavaScript (Node.js 18+, no packages): `fetch` with C async workers
// pulling from one queue, speaking asyncbench's client protocol (docs/client-protocol.md).
// Run it as a strategy:
//   asyncbench compare --strategies async --client-cmd 'node examples/clients/fetch.mjs' --client-name node-fetch
import { createInterface } from "node:readline";

const now = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, the harness's clock
// Indexes and nanosecond times are BigInt, written as exact JSON integers: a warm-up's indexes
// start at 2^62, past what a Number holds exactly.
const write = (obj) =>
  process.stdout.write(JSON.stringify(obj, (_, v) => (typeof v === "bigint" ? `@big:${v}` : v)).replace(/"@big:(\d+)"/g, "$1") + "\n");
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

const first = await createInterface({ input: process.stdin })[Symbol.asyncIterator]().next().then((r) => r.value);
// A phase's first index is read as text (then BigInt), not as a Number that would round it.
const w = JSON.parse(first.replace(/"first":(\d+)/g, '"first":"$1"'));
if (w.protocol !== "asyncbench-client" || w.version !== 1) {
  write({ type: "error", message: "this client speaks protocol version 1" });
  process.exit(3);
}

if (w.ca_pem || w.insecure) {
  // Node's fetch takes extra certificates only from NODE_EXTRA_CA_CERTS, set before it starts.
  write({ type: "error", message: "this example trusts only the system's certificates (set NODE_EXTRA_CA_CERTS)" });
  process.exit(3);
}

// The run's retry policy, without jitter or Retry-After (a short example, not openai-python).
function retryDelay(attempt, status) {
  const p = w.retry;
  if (attempt >= p.attempts) return null;
  const retried = status === null ? p.retry_transport : p.statuses.includes(status) || (p.retry_server_errors && status >= 500);
  if (!retried) return null;
  return Math.min(p.initial_s * p.factor ** (attempt - 1 + p.first_exponent), p.max_delay_s);
}

async function request(index, intended) {
  const attempts = [];
  const line = { type: "request", index, attempts };
  if (intended !== null) line.intended_ns = intended;
  for (let n = 1; ; n++) {
    const start = now();
    line.start_ns ??= start;
    const a = { start_ns: start };
    let status = null;
    try {
      const r = await fetch(w.url, {
        method: w.method,
        headers: { ...Object.fromEntries(w.headers), "x-asyncbench-request": String(index), "x-asyncbench-attempt": String(n) },
        body: w.bodies.length ? w.bodies[Number(index % BigInt(w.bodies.length))] : undefined,
        signal: AbortSignal.timeout(w.timeout_s * 1000),
      });
      status = a.status = r.status;
      const text = await r.text();
      if (r.ok && w.chat && !w.stream) {
        const usage = JSON.parse(text).usage ?? {};
        line.completion_tokens = usage.completion_tokens;
        line.prompt_tokens = usage.prompt_tokens;
      }
      line.bytes = text.length;
    } catch (e) {
      a.error = e.name === "TimeoutError" ? "timeout" : "transport";
      a.message = String(e.cause ?? e);
    }
    a.end_ns = now();
    attempts.push(a);
    const ok = status !== null && status >= 200 && status < 300;
    const wait = ok ? null : retryDelay(n, status);
    if (wait === null) {
      line.end_ns = a.end_ns;
      return write(line);
    }
    await sleep(wait);
  }
}

write({ type: "ready" });
for (const [number, phase] of w.phases.entries()) {
  const t0 = now();
  let next = 0;
  let issued = 0;
  const c = w.concurrency === 0 ? phase.count : Math.min(w.concurrency, phase.count);
  // --ramp (closed loop): worker k starts its loop k * ramp_s / c after the phase's start.
  const worker = async (_, k) => {
    if (phase.ramp_s && !phase.schedule_s && k > 0) {
      const opens = t0 + BigInt(Math.round((phase.ramp_s * 1e9 * k) / c));
      const ahead = Number(opens - now()) / 1e9;
      if (ahead > 0) await sleep(ahead);
    }
    while (next < phase.count) {
      const i = next++;
      let due = null;
      if (phase.schedule_s) {
        due = t0 + BigInt(Math.round(phase.schedule_s[i] * 1e9));
        const ahead = Number(due - now()) / 1e9;
        if (ahead > 0) await sleep(ahead);
      }
      if (phase.limit_s !== null && Number(now() - t0) / 1e9 >= phase.limit_s) return;
      issued++;
      await request(BigInt(phase.first) + BigInt(i) * BigInt(phase.stride), due);
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  write({ type: "phase", phase: number, issued, start_ns: t0, end_ns: now() });
}
