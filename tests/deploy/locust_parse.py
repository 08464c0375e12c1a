"""Parse Locust command lines with Locust's own parser, as `locust` does: load the locustfiles named by
-f (they register Tandem's options), then parse. Run as a script in a subprocess, since importing
Locust monkey-patches the process with gevent:

    python tests/deploy/locust_parse.py '[["-f", "loadtests/locustfiles/throughput.py", "--master"], ...]'

Prints a JSON list, one {"ok": bool, "error": str, "options": {...}} per command line; for a command
that names a host and a model, "tandem" holds Tandem's validated LoadOptions (or "tandem_error").
"""

import contextlib
import io
import json
import sys

from locust import argument_parser
from locust.util.load_locustfile import load_locustfile

KEEP = ("locustfile", "host", "master", "worker", "master_host", "master_port", "master_bind_port", "web_port",
        "headless", "num_users", "model", "batch_size", "deadline", "warmup")


def parse(argv: list[str]) -> dict:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            first = argument_parser.parse_locustfile_option(argv)
            for path in argument_parser.parse_locustfile_paths(first.locustfile.split(",")):
                load_locustfile(path)
            options = argument_parser.get_parser(default_config_files=[]).parse_args(argv)
    except SystemExit as e:
        return {"ok": False, "error": f"exit {e.code}: {err.getvalue().strip()}"}
    out = {"ok": True, "options": {k: getattr(options, k, None) for k in KEEP}}
    if options.host and options.model:
        from loadtests.generator.options import from_parsed

        try:
            out["tandem"] = repr(from_parsed(options, options.host))
        except ValueError as e:
            out["tandem_error"] = str(e)
    return out


def main() -> int:
    results = [parse(argv) for argv in json.loads(sys.argv[1])]
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
