"""The image's HEALTHCHECK: GET http://127.0.0.1:$HEALTH_PORT/healthz, healthy on a 2xx answer.

HEALTH_PORT=0 turns the bot's health server off: there is nothing to ask, and the check passes
(the container is then only as healthy as "running"). Standard library only: a slim image has no
curl. Proxy variables are ignored: the bot is on this container's loopback.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("HEALTH_PORT", "").strip() or "8080"
    if port == "0":
        return 0
    url = f"http://127.0.0.1:{port}/healthz"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=4) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"unhealthy: {url} answered {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
