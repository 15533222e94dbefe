"""A client for the protocol tests, standard library only: it runs the workload one request at a
time with urllib and then misbehaves as its first argument says.

  good     every request, every phase line, exit 0
  dies     kills itself (SIGKILL) after reporting 3 requests
  hangs    stops writing after 3 requests and sleeps
  garbage  writes a line that is not JSON after 3 requests
  drops    leaves request 2 out, but says it issued every one, and exits 0
  walltime reports its times from time.time_ns() instead of the monotonic clock
  refuses  says it cannot run the workload
  exit1    reports everything, then exits 1
  late     writes each request's line 0.3 s after the request ended
  quiet    says ready, then sleeps before its first request
  waits    says a wait of 8 s for its first request, waits it, then does as good
  lies     says a wait of 10⁹ s for its first request, waits 60 s, then does as good
"""

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

mode = sys.argv[1]
clock = time.time_ns if mode == "walltime" else time.monotonic_ns
w = json.loads(sys.stdin.readline())
assert w["protocol"] == "asyncbench-client" and w["version"] == 1
if mode == "refuses":
    print(json.dumps({"type": "error", "message": "this client only streams"}), flush=True)
    sys.exit(3)
print(json.dumps({"type": "ready"}), flush=True)
if mode == "quiet":
    time.sleep(3600)
if mode == "waits":
    print(json.dumps({"type": "wait", "index": w["phases"][0]["first"], "seconds": 8}), flush=True)
    time.sleep(8)
if mode == "lies":
    print(json.dumps({"type": "wait", "index": w["phases"][0]["first"], "seconds": 1e9}), flush=True)
    time.sleep(60)
headers = dict(w["headers"])
reported = 0
for number, phase in enumerate(w["phases"]):
    t0 = clock()
    for i in range(phase["count"]):
        index = phase["first"] + i * phase["stride"]
        h = dict(headers, **{"x-asyncbench-request": str(index), "x-asyncbench-attempt": "1"})
        body = w["bodies"][index % len(w["bodies"])].encode() if w["bodies"] else None
        start = clock()
        try:
            with urllib.request.urlopen(urllib.request.Request(w["url"], data=body, headers=h,
                                                               method=w["method"]), timeout=w["timeout_s"]) as r:
                r.read()
                attempt = {"status": r.status}
        except urllib.error.HTTPError as e:
            attempt = {"status": e.code, "message": e.read()[:100].decode(errors="replace")}
        except OSError as e:
            attempt = {"error": "transport", "message": str(e)}
        end = clock()
        attempt.update(start_ns=start, end_ns=end)
        if mode == "drops" and index == 2:
            continue
        if mode == "late":
            time.sleep(0.3)
        print(json.dumps({"type": "request", "index": index, "start_ns": start, "end_ns": end,
                          "attempts": [attempt]}), flush=True)
        reported += 1
        if reported == 3:
            if mode == "dies":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hangs":
                time.sleep(3600)
            if mode == "garbage":
                print("Traceback (most recent call last): oops", flush=True)
    print(json.dumps({"type": "phase", "phase": number, "issued": phase["count"], "start_ns": t0,
                      "end_ns": clock()}), flush=True)
sys.exit(1 if mode == "exit1" else 0)
