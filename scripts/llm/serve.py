"""Serves a GGUF model with llama.cpp's OpenAI-compatible HTTP server (the xllamacpp
wheel) on 127.0.0.1 until interrupted. Used by scripts/llm.sh (make llm)."""

import argparse
import signal
import sys
import threading
import time
import urllib.request

import xllamacpp


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--model", required=True)
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--threads", type=int, required=True)
    args.add_argument("--ctx", type=int, required=True)
    opts = args.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = opts.model
    params.hostnames = ["127.0.0.1"]
    params.port = opts.port
    params.n_ctx = opts.ctx
    # One slot: on a small CPU, parallel slots only split the same cores.
    params.n_parallel = 1
    params.cpuparams.n_threads = opts.threads
    params.cpuparams_batch.n_threads = opts.threads
    # The model's own chat template (Qwen's), which knows about tools.
    params.use_jinja = True
    # Clients name the model "local" whatever file is served.
    params.model_alias = {"local"}
    server = xllamacpp.Server(params)

    url = f"http://127.0.0.1:{opts.port}/v1/models"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        sys.exit(f"llm: the server did not answer on {url}")
    print(f"llm: ready on http://127.0.0.1:{opts.port}/v1", file=sys.stderr, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main()
