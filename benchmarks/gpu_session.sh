#!/usr/bin/env bash
# imagegan's GPU measurements in one timed call (a lent GPU gives a session ~10 minutes per call).
#
#   1. DCGAN throughput (fp32 eager, bf16 eager, bf16 + compile), with the GPU to itself;
#   2. the issue's targets side by side on the one GPU — InfoGAN (3 seeds), StackGAN 64 px,
#      DCGAN, WGAN-GP at their full schedules — each stopped at the deadline if still training,
#      then scored by `imagegan eval` from its latest checkpoint (so a cut-short run still counts,
#      at the step it reached, which eval.json records);
#   3. everything small (eval.json, metrics, grids, curves, logs) packed into OUT/runs.tar.gz.
#
# Usage (repository root; MNIST's IDX files in MNIST_DIR):
#   OUT=/tmp/gpu MNIST_DIR=runs/mnist CLASSIFIERS=runs/classifiers bash benchmarks/gpu_session.sh
#   OUT=/tmp/gpu DEVICE=cpu SCALE=0.002 DEADLINE=240 bash benchmarks/gpu_session.sh   # CPU smoke run
# DEADLINE (seconds from the start) bounds the whole script; training stops EVAL_S before it.
# JOBS picks the runs (default all six below); THROUGHPUT_S=0 skips the throughput benchmark.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the results folder}
MNIST_DIR=${MNIST_DIR:-../shared/data/mnist}
DEVICE=${DEVICE:-auto}
SCALE=${SCALE:-1}
DEADLINE=${DEADLINE:-540}
EVAL_S=${EVAL_S:-90}
THROUGHPUT_S=${THROUGHPUT_S:-150}
RUNS=${RUNS:-/tmp/imagegan-gpu-runs}
JOBS=${JOBS:-infogan-mnist-seed0 infogan-mnist-seed1 infogan-mnist-seed2 stackgan-shapes-64 dcgan-mnist wgan-gp-mnist}
THROUGHPUT_ARGS=${THROUGHPUT_ARGS:-}  # e.g. --cudnn-benchmark --profile-steps 10
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
log() { echo "[$(printf '%4d' "$SECONDS") s] $*" | tee -a "$OUT/session.log"; }
steps() { $PYTHON -c "print(max(2, round($1 * $SCALE)))"; }

log "torch $($PYTHON -c 'import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")')"

# 1. throughput, alone on the device so the timings are clean
if [ "$DEVICE" != cpu ] && [ "$THROUGHPUT_S" -gt 0 ]; then
    timeout "$THROUGHPUT_S" $PYTHON benchmarks/dcgan_throughput.py --device "$DEVICE" --json "$OUT/dcgan_throughput.json" $THROUGHPUT_ARGS \
        >>"$OUT/session.log" 2>&1 || log "throughput benchmark failed or ran past ${THROUGHPUT_S} s"
fi

# 2. the targets, side by side; feature classifiers trained once, first, into the shared cache
CACHE="$RUNS/.classifiers"
mkdir -p "$CACHE"
# CLASSIFIERS: a folder of already trained ones (e.g. those docs/imagegan.md's CPU FIDs used, so the numbers compare)
[ -n "${CLASSIFIERS:-}" ] && cp "$CLASSIFIERS"/classifier-*.safetensors "$CACHE"/
$PYTHON - "$CACHE" "$MNIST_DIR" "$DEVICE" >"$RUNS/classifiers.log" 2>&1 <<'EOF' &
import sys
from imagegan.metrics.classifier import classifier_for
from runcore import resolve_device
cache, mnist, device = sys.argv[1], sys.argv[2], resolve_device(sys.argv[3])
for data, size, channels in [("mnist", 28, 1), ("mnist", 32, 1), ("shapes", 64, 3)]:
    classifier_for(data, mnist if data == "mnist" else None, size, cache, device, channels=channels, progress=False)
    print("classifier ready:", data, size, flush=True)
EOF
train_left=$((DEADLINE - EVAL_S - SECONDS))
log "training for at most ${train_left} s"
job() {  # name, then imagegan train's arguments
    local name=$1
    shift
    (
        timeout -s INT "$train_left" $PYTHON -m imagegan.cli train "$@" --device "$DEVICE" --out "$RUNS/$name" --quiet \
            --checkpoint-every "$(steps 500)" >"$RUNS/$name.train.log" 2>&1
        log "$name: training ended (exit $?)"
        timeout $((DEADLINE - 10 - SECONDS)) $PYTHON -m imagegan.cli eval "$RUNS/$name" --cache-dir "$CACHE" --device "$DEVICE" \
            >"$RUNS/$name.eval.log" 2>&1
        log "$name: eval ended (exit $?)"
    ) &
}
MNIST=(--data mnist --data-dir "$MNIST_DIR")
for name in $JOBS; do
    case $name in
    infogan-mnist-seed*)
        job "$name" --model infogan "${MNIST[@]}" --image-size 28 --steps "$(steps 10000)" --batch-size 64 \
            --seed "${name#infogan-mnist-seed}" --sample-every "$(steps 2000)" ;;
    stackgan-shapes-64)
        job "$name" --model stackgan --data shapes --image-size 64 --steps "$(steps 10000)" --batch-size 64 \
            --sample-every "$(steps 1000)" ;;
    dcgan-mnist)
        job "$name" --model dcgan "${MNIST[@]}" --image-size 32 --steps "$(steps 10000)" --batch-size 128 \
            --sample-every "$(steps 2000)" ;;
    wgan-gp-mnist)
        job "$name" --model wgan-gp "${MNIST[@]}" --image-size 32 --steps "$(steps 10000)" --batch-size 64 \
            --sample-every "$(steps 2000)" ;;
    *) log "unknown job $name (infogan-mnist-seedN, stackgan-shapes-64, dcgan-mnist, wgan-gp-mnist)" ;;
    esac
done
wait
log "all jobs done"

# 3. what comes back: every score with the step it was taken at, in one small file; then the
#    rest (no checkpoints: too big) for the grids and curves
$PYTHON - "$RUNS" "$OUT/summary.json" <<'EOF'
import json, sys
from pathlib import Path
runs, summary = Path(sys.argv[1]), {}
for run in sorted(p for p in runs.iterdir() if (p / "config.json").is_file()):
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    logged = [json.loads(line) for line in lines if line.strip()]
    summary[run.name] = {
        "eval": json.loads((run / "eval.json").read_text()) if (run / "eval.json").is_file() else None,
        "last_logged_step": logged[-1]["step"] if logged else None,
        "train_seconds": round(logged[-1]["time"] - logged[0]["time"] + logged[0]["seconds"], 1) if logged else None,
    }
Path(sys.argv[2]).write_text(json.dumps(summary, indent=2))
EOF
(cd "$RUNS" && tar czf "$OUT/runs.tar.gz" --exclude='checkpoints' --exclude='.classifiers' --exclude='*.safetensors' .)
log "packed $(du -h "$OUT/runs.tar.gz" | cut -f1)"
