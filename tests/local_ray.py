"""A local Ray runtime of 2 worker processes for the tests of Ray runs
(``ray_runtime``, module-scoped: import it into a test module), with the
instant inverting fake engines registered in every worker by a Ray worker
set-up hook (``register_test_engines``): ``invert``, and ``invert-kill``,
which SIGKILLs its own worker once after a test armed it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from conftest import ROOT
from fakes import InvertingEngine

from vidstyle import engines

try:
    import ray
except ImportError:  # the Ray runs skip; tests that need no runtime still run
    ray = None

KILL_DIR_ENV = "VIDSTYLE_TEST_KILL_DIR"  # "armed" there: the next frame kills its worker (once: "killed")


class KillOnceEngine(InvertingEngine):
    """The inverting engine that SIGKILLs its own worker process on its first
    frame after the test armed it, once."""

    name = "invert-kill"

    def stylize(self, content_u8, warm=None, *, max_iters=None, on_iteration=None):
        folder = Path(os.environ[KILL_DIR_ENV])
        if (folder / "armed").exists() and not (folder / "killed").exists():
            (folder / "killed").write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().stylize(content_u8, warm, max_iters=max_iters, on_iteration=on_iteration)


def register_test_engines() -> None:
    """Ray worker set-up hook: the fake engines, by name, in every worker."""
    engines.register_engine("invert", InvertingEngine)
    engines.register_engine("invert-kill", KillOnceEngine)


@pytest.fixture(scope="module")
def ray_runtime(tmp_path_factory):
    """A local Ray runtime with 2 CPUs (2 worker processes), for the module
    that imports this fixture; yields the folder a test arms (``armed``) to
    have the next ``invert-kill`` frame kill its worker."""
    if ray is None:
        pytest.skip("Ray is not installed: pip install 'vidstyle[ray]'")
    kill_dir = tmp_path_factory.mktemp("kill")
    tests = str(Path(__file__).resolve().parent)
    path = os.pathsep.join([tests, str(ROOT), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": path, KILL_DIR_ENV: str(kill_dir), "OMP_NUM_THREADS": "1"},
            "worker_process_setup_hook": register_test_engines,
        },
    )
    register_test_engines()  # the driver (and the CLI's --engine check) find the engines here too
    yield kill_dir
    ray.shutdown()
    engines.unregister_engine("invert")
    engines.unregister_engine("invert-kill")
