"""Python's own Pyro4 daemon for `npm run bench:pyro4`: object "bench" with
add and echo; prints its URI, serves until stdin closes."""
import sys
import threading

import Pyro4

Pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal"}


@Pyro4.expose
class Bench(object):
    def add(self, x, y):
        return x + y

    def echo(self, v):
        return v


daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
print(daemon.register(Bench(), "bench"), flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), daemon.shutdown()), daemon=True).start()
daemon.requestLoop()
