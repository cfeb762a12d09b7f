"""The one Python Pyro4 client of `npm run bench:pyro4`: argv = URI,
serializer, seconds, payload ("add" or bytes of an echo). Warms up, then
calls back to back for the given time; prints {"calls_per_s", "p50_us",
"p99_us"} as one JSON line."""
import json
import sys
import time

import Pyro4

Pyro4.config.SERIALIZER = sys.argv[2]
p = Pyro4.Proxy(sys.argv[1])
seconds = float(sys.argv[3])
payload = sys.argv[4]
blob = "x" * int(payload) if payload != "add" else None


def call(i):
    if blob is None:
        assert p.add(i, 1) == i + 1
    else:
        assert len(p.echo(blob)) == len(blob)


for i in range(300):
    call(i)
lat = []
start = time.perf_counter()
i = 0
while time.perf_counter() - start < seconds:
    t = time.perf_counter()
    call(i)
    lat.append(time.perf_counter() - t)
    i += 1
elapsed = time.perf_counter() - start
lat.sort()
print(json.dumps({"calls_per_s": i / elapsed, "p50_us": lat[len(lat) // 2] * 1e6, "p99_us": lat[int(len(lat) * 0.99)] * 1e6}), flush=True)
