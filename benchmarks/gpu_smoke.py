"""GPU smoke test: the CUDA path of the optimizer as a GPU user meets it (issue 14).

    .venv/bin/python benchmarks/gpu_smoke.py                       # what `make gpu-smoke` runs
    .venv/bin/python benchmarks/gpu_smoke.py --size 64x36 --iters 10 --big 128x72 --frames 3   # quick, any machine

Prints, one section each (a CUDA-only row prints why it is skipped elsewhere):

1. device: torch and cuDNN versions, the device, its compute capability and
   the precision ``--precision auto`` picks there.
2. precision: ``--iters`` L-BFGS iterations on the sample's first frame
   (samples/bbb_tail_480x270.mp4, style samples/starry_night.jpg) at
   ``--size``, from the content, with every precision the device offers
   (CPU: bf16 and fp16 too, as a check of their numerics, not their speed):
   first and the frame's final loss, finite and falling, final loss / fp32's
   (pass: within 5%), seconds per iteration, and how many iterations
   overshot (the engine restarts from its best iterate: ``diverged``).
3. host syncs per iteration (CUDA): torch.cuda's sync debug mode counts
   device-to-host waits during 5 iterations, torch.optim.LBFGS against
   DeviceLBFGS (expected: 1 per iteration, the loss read by the stopping rule).
4. --compile (CUDA; ``--compile-on-cpu`` to force): compiles, compile seconds,
   first and steady frame times against an eager run of the same frames.
5. memory (CUDA): peak ``torch.cuda.max_memory_allocated`` of one frame at
   ``--big`` with the L-BFGS history full, against the engine's estimate.
6. out of memory (CUDA): ``torch.cuda.set_per_process_memory_fraction`` set
   just above what is already allocated, one frame at ``--big``: the error a
   user sees.

Numbers are single runs after a warm-up; on a shared machine rerun and
compare medians. Exit status 1 when a check fails (a precision outside 5% of
fp32, a loss not finite or not falling, an out of memory not reported clearly).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.engines import optimize  # noqa: E402
from vidstyle.engines.optimize import OptimizerEngine  # noqa: E402
from vidstyle.engines.optimize_memory import RUNTIME_BYTES, estimate_bytes, model_bytes  # noqa: E402
from vidstyle.engines.precision import choose_precision, cuda_index, device_label, precision_name  # noqa: E402
from vidstyle.errors import OutOfMemoryError, VidstyleError  # noqa: E402
from vidstyle.features import VGG19Features, select_device  # noqa: E402
from vidstyle.frames import TemporalTarget, WarmStart  # noqa: E402
from vidstyle.media import load_image, read_frames, resize  # noqa: E402

CLIP = ROOT / "samples" / "bbb_tail_480x270.mp4"
STYLE = ROOT / "samples" / "starry_night.jpg"
LAYERS = tuple(dict.fromkeys(StyleConfig.content_layers + StyleConfig.style_layers))
TOLERANCE = 0.05  # a precision's final loss within 5% of fp32's
GIB = 2**30


class WithPrecision:
    """A StyleConfig plus ``precision`` (until StyleConfig has the field)."""

    def __init__(self, config: StyleConfig, precision: str):
        self._config, self.precision = config, precision

    def __getattr__(self, name):
        return getattr(self._config, name)


def with_precision(config: StyleConfig, precision: str):
    try:
        return config.replace(precision=precision)
    except TypeError:
        return WithPrecision(config, precision)


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def skip(reason: str) -> None:
    print(f"skipped: {reason}", flush=True)


class Smoke:
    def __init__(self, args):
        self.args = args
        self.device = select_device(args.device)
        self.cuda = self.device.type == "cuda"
        self.failures: list[str] = []
        self.frames = [frame.image_u8 for _, frame in zip(range(max(2, args.frames)), read_frames(CLIP))]
        self.style = load_image(STYLE)
        self.network = VGG19Features(LAYERS)  # float32, shared; engines copy it to bf16/fp16 themselves
        self.base = StyleConfig(device=str(self.device), tolerance=0.0, coarse_to_fine=False)

    def engine(self, precision: str = "auto", **changes) -> OptimizerEngine:
        return OptimizerEngine(
            [self.style],
            config=with_precision(self.base.replace(**changes), precision),
            device=self.device,
            features=self.network,
        )

    def check(self, ok: bool, what: str) -> str:
        if not ok:
            self.failures.append(what)
        return "ok" if ok else "FAIL"

    # -- 1 -------------------------------------------------------------------
    def describe(self) -> None:
        section("device")
        auto = choose_precision("auto", self.device)
        print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version() if self.cuda else '-'}")
        print(f"device: {device_label(self.device)}")
        if self.cuda:
            free, total = torch.cuda.mem_get_info(self.device)
            print(f"memory: {free / GIB:.1f} of {total / GIB:.1f} GiB free")
            print(f"torch.cuda.is_bf16_supported(): {torch.cuda.is_bf16_supported()} (emulated counts as yes)")
        print(f"--precision auto picks: {precision_name(auto)}")
        print(f"L-BFGS: {'DeviceLBFGS' if optimize.LBFGS_ON_DEVICE else 'torch.optim.LBFGS'}")

    def precisions(self) -> list[str]:
        names = ["fp32", "bf16", "fp16"]
        if self.args.precisions:
            names = self.args.precisions.split(",")
        available = []
        for name in names:
            try:
                choose_precision(name, self.device)
                available.append(name)
            except VidstyleError as err:
                print(f"{name}: not offered here ({err})")
        return available

    # -- 2 -------------------------------------------------------------------
    def precision_rows(self) -> None:
        size = self.args.size
        section(f"precision: {self.args.iters} L-BFGS iterations from the content at {size[0]}x{size[1]}")
        if not self.cuda:
            print("(CPU: bf16 and fp16 rows check the numerics, not the speed; CPU fp16 convolutions are slow)")
        content = resize(self.frames[0], size)
        columns = ("precision", "first loss", "final loss", "finite", "falling", "final / fp32", "within 5%")
        columns += ("s/iter", "overshot")
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        reference = None
        for name in self.precisions():
            engine = self.engine(name)
            try:
                engine.stylize(content, max_iters=3)  # warm-up: kernels, cuDNN benchmark, style Grams
            except VidstyleError as err:  # fp16's range: refused with one line, which is the behaviour we want
                print(f"| {name} | refused: {err} | | | | | | | |", flush=True)
                del engine
                continue
            losses: list[float] = []
            sync(self.device)
            started = time.perf_counter()
            result = engine.stylize(
                content, max_iters=self.args.iters, on_iteration=lambda e, losses=losses: losses.append(e.loss)
            )
            sync(self.device)
            per_iter = (time.perf_counter() - started) / self.args.iters
            # the frame's own final loss: an iteration that overshot is in the
            # events, but the engine restarts from (or keeps) its best iterate
            restarts = sum(optimize.diverged(loss, min(losses[: i + 1])) for i, loss in enumerate(losses))
            losses.append(result.losses["total"])
            finite = all(np.isfinite(losses[-1:]))
            falling = finite and losses[-1] < losses[0]
            if name == "fp32":
                reference = losses[-1]
            ratio = losses[-1] / reference if reference else float("nan")
            within = (
                "-"
                if name == "fp32" or reference is None
                else self.check(abs(ratio - 1) <= TOLERANCE, f"{name} final loss {ratio:.3f} x fp32")
            )
            print(
                f"| {name} | {losses[0]:.4g} | {losses[-1]:.4g} | {self.check(finite, f'{name} finite')} | "
                f"{self.check(falling, f'{name} falling')} | {ratio:.3f} | {within} | {per_iter:.4f} | {restarts} |",
                flush=True,
            )
            del engine

    # -- 3 -------------------------------------------------------------------
    def host_syncs(self) -> None:
        section("host syncs per L-BFGS iteration")
        if not self.cuda:
            skip("CUDA only (on CPU a host read costs nothing); tests/test_gpu_lbfgs.py checks the host reads")
            return
        content = resize(self.frames[0], self.args.size)
        engine = self.engine("auto")
        engine.stylize(content, max_iters=3)
        for on_device in (False, True):
            optimize.LBFGS_ON_DEVICE = on_device
            iters = 5
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    engine.stylize(content, max_iters=iters)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = len([w for w in caught if "synchroniz" in str(w.message).lower()])
            name = "DeviceLBFGS" if on_device else "torch.optim.LBFGS"
            print(
                f"{name}: {syncs} syncs in one frame of {iters} iterations "
                f"(content pass, final losses and the image download included)"
            )
        optimize.LBFGS_ON_DEVICE = True

    # -- 4 -------------------------------------------------------------------
    def compile_rows(self) -> None:
        section(f"--compile: {len(self.frames)} frames at {self.args.size[0]}x{self.args.size[1]}")
        if not self.cuda and not self.args.compile_on_cpu:
            skip("CUDA only by default (inductor on CPU takes minutes here); --compile-on-cpu runs it")
            return
        frames = [resize(frame, self.args.size) for frame in self.frames]
        height, width = frames[0].shape[:2]
        print("| run | compiles | compile s | first frame s | steady frame s (median) | fallback |")
        print("|---|---|---|---|---|---|")
        for compiled in (False, True):
            engine = self.engine("auto", compile=compiled, coarse_to_fine=True, tolerance=StyleConfig.tolerance)
            seconds, previous = [], None
            for frame in frames:
                warm = (
                    None
                    if previous is None
                    else WarmStart(
                        init=previous,
                        temporal=TemporalTarget(
                            warped=previous[None].astype(np.float32) / 255,
                            weights=np.ones((1, height, width), np.float32),
                        ),
                    )
                )
                sync(self.device)
                started = time.perf_counter()
                previous = engine.stylize(frame, warm).image_u8
                sync(self.device)
                seconds.append(time.perf_counter() - started)
            stats = engine.compile_stats
            steady = statistics.median(seconds[1:]) if len(seconds) > 1 else float("nan")
            print(
                f"| {'compiled' if compiled else 'eager'} | {stats.compiles} | {stats.compile_seconds:.1f} | "
                f"{seconds[0]:.2f} | {steady:.3f} | {stats.fallback or '-'} |",
                flush=True,
            )

    # -- 5 -------------------------------------------------------------------
    def memory(self) -> None:
        width, height = self.args.big
        section(f"memory at {width}x{height}")
        if not self.cuda:
            skip("CUDA only (tests/test_memory.py checks the CPU estimate against a measured run)")
            return
        iters = optimize.LBFGS_HISTORY_SIZE + 1  # the curvature history full
        content = resize(self.frames[0], (width, height))
        engine = self.engine("auto")
        torch.cuda.empty_cache()
        sync(self.device)
        before = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        started = time.perf_counter()
        result = engine.stylize(content, max_iters=iters)
        sync(self.device)
        per_iter = (time.perf_counter() - started) / iters
        peak = torch.cuda.max_memory_allocated(self.device) - before
        reserved = torch.cuda.max_memory_reserved(self.device)
        frame_estimate = estimate_bytes(width, height, layers=LAYERS, dtype=engine.dtype, temporal_frames=0)
        print(
            f"precision {engine.precision}, {iters} iterations, {per_iter:.3f} s/iter, "
            f"loss {result.losses['total']:.4g}"
        )
        print(
            f"measured: peak allocated for the frame {peak / GIB:.2f} GiB (network {before / GIB:.2f} GiB before); "
            f"peak reserved {reserved / GIB:.2f} GiB"
        )
        print(
            f"estimated: frame {frame_estimate / GIB:.2f} GiB (measured / estimated {peak / frame_estimate:.2f}); "
            f"network {model_bytes(LAYERS, dtype=engine.dtype) / GIB:.2f} GiB; "
            f"required_bytes {engine.required_bytes((width, height)) / GIB:.2f} GiB "
            f"(includes {RUNTIME_BYTES / GIB:.2f} GiB runtime, with the temporal term)"
        )
        del engine

    # -- 6 -------------------------------------------------------------------
    def out_of_memory(self) -> None:
        width, height = self.args.big
        section(f"out of memory at {width}x{height}")
        if not self.cuda:
            skip(
                "CUDA only (needs torch.cuda.set_per_process_memory_fraction); "
                "tests/test_gpu_readiness.py injects out-of-memory errors on CPU"
            )
            return
        content = resize(self.frames[0], (width, height))
        engine = self.engine("auto")
        torch.cuda.empty_cache()
        _, total = torch.cuda.mem_get_info(self.device)
        allowed = torch.cuda.memory_allocated(self.device) + 64 * 2**20
        torch.cuda.set_per_process_memory_fraction(min(1.0, allowed / total), cuda_index(self.device))
        try:
            engine.stylize(content, max_iters=5)
            print(
                self.check(False, "out of memory provoked") + ": the frame fit in "
                f"{allowed / 2**20:.0f} MiB; nothing to show"
            )
        except OutOfMemoryError as err:
            print(f"{self.check('--max-side' in str(err), 'clear out-of-memory message')}: vidstyle: error: {err}")
            print(f"(exit code {err.exit_code}, stage {err.stage!r}, size {err.size})")
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0, cuda_index(self.device))
            del engine
            torch.cuda.empty_cache()

    def run(self) -> int:
        self.describe()
        for part in (self.precision_rows, self.host_syncs, self.compile_rows, self.memory, self.out_of_memory):
            try:
                part()
            except Exception as err:  # one broken section must not hide the others
                self.failures.append(f"{part.__name__}: {type(err).__name__}: {err}")
                print(f"FAILED {part.__name__}: {type(err).__name__}: {err}", flush=True)
        section("result")
        print("all checks passed" if not self.failures else "FAILED: " + "; ".join(self.failures))
        return 1 if self.failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--size", type=parse_size, default=(256, 144), help="precision rows and --compile (WxH)")
    parser.add_argument("--iters", type=int, default=30, help="iterations of each precision row")
    parser.add_argument("--big", type=parse_size, default=(1280, 720), help="memory and out-of-memory rows (WxH)")
    parser.add_argument("--frames", type=int, default=6, help="frames of the --compile rows")
    parser.add_argument("--precisions", default="", help="comma-separated subset of fp32,bf16,fp16")
    parser.add_argument("--compile-on-cpu", action="store_true", help="run the --compile rows on CPU too")
    return Smoke(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
