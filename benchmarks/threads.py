"""Torch threads on a shared CPU: one command, prints a table.

    .venv/bin/python benchmarks/threads.py [--size 128x72] [--iters 10]

Times an optimizer iteration (VGG19 forward and backward, L-BFGS step; the
sample's first frame at ``--size``, no pyramid) with 1 thread and with one
per core, each under OpenMP's default wait policy and under
``OMP_WAIT_POLICY=PASSIVE``, first on an otherwise idle machine, then
while another process keeps one core busy (a Python busy loop, as a
second job or a browser tab would). Every measurement runs in a fresh
process (the wait policy is read when torch loads). What it shows: a
parallel region waits for its slowest thread, so a thread that shares its
core with another process slows every iteration; ``--threads`` is the
remedy on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

MEASURE = """
import sys, time
sys.path.insert(0, {root!r})
import torch
from vidstyle.config import StyleConfig
from vidstyle.engines.optimize import OptimizerEngine
from vidstyle.media import load_image, read_frames
threads, size, iters = {threads}, ({width}, {height}), {iters}
torch.set_num_threads(threads)
style = load_image({root!r} + "/samples/starry_night.jpg")
frame = next(iter(read_frames({root!r} + "/samples/bbb_tail_480x270.mp4", size=size))).image_u8
config = StyleConfig(device="cpu", num_threads=threads, coarse_to_fine=False, tolerance=0.0)
engine = OptimizerEngine([style], config=config)
engine.stylize(frame, max_iters=2)
started = time.perf_counter()
engine.stylize(frame, max_iters=iters)
print((time.perf_counter() - started) / iters)
"""

BUSY = "import time\nwhile True:\n    pass\n"


def seconds_per_iteration(threads: int, policy: str | None, size: tuple[int, int], iters: int) -> float:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    code = MEASURE.format(root=ROOT, threads=threads, width=size[0], height=size[1], iters=iters)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="128x72", help="frame size WxH")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per measurement")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    cores = os.cpu_count() or 1
    rows = []
    for load in ("idle", "one core busy"):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load != "idle" else None
        try:
            time.sleep(1.0 if busy else 0.0)
            for threads in sorted({1, cores}):
                for policy in (None, "PASSIVE"):
                    seconds = seconds_per_iteration(threads, policy, size, args.iters)
                    rows.append((load, threads, policy or "default", seconds))
                    print(
                        f"{load}: {threads} thread(s), wait policy {policy or 'default'}: {seconds * 1000:.0f} ms",
                        flush=True,
                    )
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    print(f"\n{cores} cores, {size[0]}x{size[1]}, {args.iters} iterations each, ms per iteration\n")
    print("| machine | threads | OMP wait policy | ms / iteration |")
    print("| --- | ---: | --- | ---: |")
    for load, threads, policy, seconds in rows:
        print(f"| {load} | {threads} | {policy} | {seconds * 1000:.0f} |")


if __name__ == "__main__":
    main()
