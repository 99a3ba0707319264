"""How fast ``mlflow models serve`` answers one request of N SMILES, and whether the answer is
strict JSON (no bare ``NaN``).

Starts the server exactly as the README says (``MLFLOW_TRACKING_URI`` set to the store the model
was logged in, ``--env-manager local``), posts the first N molecules of MOSES test (plus one
invalid SMILES) in one ``dataframe_split`` request per size, and prints one JSON line per
request: HTTP status, seconds, molecules/s, whether ``json.loads`` accepts the body with NaN
refused. ``--timeout`` is the server's request timeout (MLflow's default is 60 s).

    python experiments/serve_speed.py --model-uri models:/m-... \\
        --tracking-uri sqlite:////tmp/s/mlflow.db --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from molgraph.chem.sources import resolve_data_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strict(text: str) -> bool:
    def refuse(token: str):
        raise ValueError(token)

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--timeout", type=int, default=None, help="server -t (default: MLflow's)")
    parser.add_argument("--log", default="serve.log")
    args = parser.parse_args()
    smiles = pd.read_csv(resolve_data_path("moses:test"), nrows=max(args.sizes)).iloc[:, 0]
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    port = _free_port()
    command = [exe, "models", "serve", "-m", args.model_uri, "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port)]
    if args.timeout:
        command += ["-t", str(args.timeout)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": args.tracking_uri}
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with open(args.log, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    sys.exit(f"the server did not start; see {args.log}")
                time.sleep(0.5)
        print(json.dumps({"server_start_s": round(time.perf_counter() - started, 1)}))
        for n in args.sizes:
            rows = [[s] for s in smiles[:n - 1]] + [["not a smiles"]]
            body = json.dumps({"dataframe_split": {"columns": ["smiles"], "data": rows}})
            request = urllib.request.Request(f"{url}/invocations", data=body.encode(),
                                             headers={"Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=3600) as reply:
                    status, text = reply.status, reply.read().decode()
            except urllib.error.HTTPError as err:
                status, text = err.code, err.read().decode()
            seconds = time.perf_counter() - t0
            print(json.dumps({"smiles": n, "status": status, "seconds": round(seconds, 2),
                              "molecules_per_s": round(n / seconds, 1),
                              "strict_json": _strict(text) if status == 200 else None}),
                  flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
