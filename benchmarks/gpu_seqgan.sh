#!/usr/bin/env bash
# SeqGAN's GPU measurements (issue 14) in one timed call: a lent GPU gives a session ~10 minutes.
#
#   1. units: benchmarks/seqgan_units.py at the paper's sizes, fp32 and bf16 (JSON), and, with
#      ANCHOR=1, TextGAN-PyTorch's units in the same invocation (--anchor);
#   2. one seed of the paper's oracle experiment end to end (MLE 120 epochs, 50 D pre-training
#      steps, SeqGAN's 200 rounds, the constant-reward ablation, every NLL-oracle/NLL-test), timed;
#      the paper's fixed MLE schedule (--no-early-stopping), so that its numbers are the ones to
#      set beside the published 9.04 and 8.74 (EARLY_STOPPING=1: the experiment's default instead);
#   3. the same experiment for seeds 0 1 2 in the same folder: seed 0 is reused, seeds 1 and 2 run
#      side by side as separate processes (--parallel); results.json/results.md with mean ± std;
#   4. with LEAKGAN_S > 0 (seconds; default 0: another call's job), LeakGAN's length-20 schedule
#      on the same oracle (80 MLE epochs, 800 rounds; docs/family.md), seed 0, in its own folder.
# Every part runs under `timeout -s INT` against DEADLINE, so a part cut short saves its state and
# stops cleanly (exit 124 in summary.json; rerunning with the same RUNS resumes it); summary.json says
# how far each part got (exit status, seconds, the finished seeds, each sub-run's last logged
# phase and step) and results/ holds the tables, curves and logs (no checkpoints) for the trip back.
#
# Usage (repository root):
#   OUT=$OUT bash benchmarks/gpu_seqgan.sh                           # a GPU: every figure, ~10 min
#   OUT=/tmp/gs DEVICE=cpu SMOKE=1 DEADLINE=300 bash benchmarks/gpu_seqgan.sh   # CPU smoke run
# DEADLINE: seconds from the start for the whole script (default 560); UNITS_S bounds part 1 and
# ONE_S part 2; PARALLEL (default 2) the seeds of part 3 side by side; D_PRECISION (fp32|bf16) the
# experiment's discriminator precision; SMOKE=1 shrinks the experiment to a few steps (the units to
# --quick) so the script's plumbing can be checked on a CPU in minutes.
# RUNS keeps the experiments' run folders; one made with other settings is refused, so a change of
# EARLY_STOPPING needs a fresh RUNS.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the results folder}
DEVICE=${DEVICE:-auto}
DEADLINE=${DEADLINE:-560}
UNITS_S=${UNITS_S:-120}
ONE_S=${ONE_S:-330}
PARALLEL=${PARALLEL:-2}
D_PRECISION=${D_PRECISION:-fp32}
ANCHOR=${ANCHOR:-0}
SMOKE=${SMOKE:-0}
EARLY_STOPPING=${EARLY_STOPPING:-0}
ORACLE=${ORACLE:-../shared/data/oracle/seqgan_oracle_lstm.npz}
RUNS=${RUNS:-/tmp/textgan-gpu-runs}
PYTHON=${PYTHON:-python3}
LEAKGAN_S=${LEAKGAN_S:-0}
PACK_S=15
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1
log() { echo "[$(printf '%4d' "$SECONDS") s] $*" | tee -a "$OUT/session.log"; }
left() { echo $(($1 - SECONDS)); }  # seconds until a point measured from the start
status_of() { echo "$1" >"$OUT/$2.exit"; }

log "torch $($PYTHON -c 'import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")')"
QUICK=()
SIZES=(--oracle "$ORACLE" --preset paper)
LEAK=(--oracle "$ORACLE" --preset paper --mle-epochs 80 --rounds 800)
if [ "$SMOKE" = 1 ]; then
    QUICK=(--quick)
    SIZES=(--oracle "$ORACLE" --preset small --mle-epochs 1 --rounds 1 --d-pretrain-steps 1 --eval-samples 200
        --curve-samples 100 --sweep-samples 100 --temperatures 0.9 1.0 1.1)
    LEAK=("${SIZES[@]}")
fi
SCHEDULE=(--no-early-stopping)
[ "$EARLY_STOPPING" = 1 ] && SCHEDULE=(--early-stopping)
EXPERIMENT=("${SIZES[@]}" "${SCHEDULE[@]}" --gans seqgan constant --device "$DEVICE" --out "$RUNS/oracle" --quiet --d-precision "$D_PRECISION")

# 1. units, the GPU to itself
units_end=$((SECONDS + UNITS_S))
ANCHOR_ARG=()
[ "$ANCHOR" = 1 ] && ANCHOR_ARG=(--anchor)
for precision in fp32 bf16; do
    [ "$(left $units_end)" -gt 5 ] || { log "units $precision: skipped (UNITS_S spent)"; continue; }
    timeout "$(left $units_end)" $PYTHON benchmarks/seqgan_units.py --device "$DEVICE" --precision "$precision" \
        "${QUICK[@]}" "${ANCHOR_ARG[@]}" --json "$OUT/units_$precision.json" >>"$OUT/units.log" 2>&1
    code=$?
    status_of $code "units_$precision"
    log "units $precision: exit $code"
    ANCHOR_ARG=()  # the anchor once, beside fp32
done

# 2. one seed end to end
one_end=$((SECONDS + ONE_S))
[ $one_end -gt $((DEADLINE - PACK_S)) ] && one_end=$((DEADLINE - PACK_S))
start=$SECONDS
if [ "$(left $one_end)" -gt 5 ]; then  # (timeout 0 would mean no limit)
    timeout -s INT "$(left $one_end)" $PYTHON -m textgan experiment oracle "${EXPERIMENT[@]}" --seeds 0 \
        >"$OUT/one_seed.log" 2>&1
    code=$?
else
    code=skipped
fi
status_of $code one_seed
log "one seed: exit $code after $((SECONDS - start)) s"

# 3. three seeds: seed 0 reused, the others side by side
start=$SECONDS
if [ "$(left $((DEADLINE - PACK_S)))" -gt 5 ]; then
    timeout -s INT "$(left $((DEADLINE - PACK_S)))" $PYTHON -m textgan experiment oracle "${EXPERIMENT[@]}" \
        --seeds 0 1 2 --parallel "$PARALLEL" >"$OUT/three_seeds.log" 2>&1
    code=$?
else
    code=skipped
fi
status_of $code three_seeds
log "three seeds: exit $code after $((SECONDS - start)) s"

# 4. LeakGAN's schedule, when asked for (resumable: the same RUNS goes on where it stopped)
leak_end=$((SECONDS + LEAKGAN_S))
[ $leak_end -gt $((DEADLINE - PACK_S)) ] && leak_end=$((DEADLINE - PACK_S))
if [ "$LEAKGAN_S" -gt 0 ] && [ "$(left $leak_end)" -gt 5 ]; then
    start=$SECONDS
    timeout -s INT "$(left $leak_end)" $PYTHON -m textgan experiment oracle "${LEAK[@]}" --gans leakgan --seeds 0 \
        --device "$DEVICE" --out "$RUNS/leakgan" --quiet >"$OUT/leakgan.log" 2>&1
    code=$?
    status_of $code leakgan
    log "leakgan: exit $code after $((SECONDS - start)) s"
fi

# 5. what comes back: how far each part got, in one small file, and the tables, curves and logs
$PYTHON - "$RUNS" "$OUT" <<'EOF'
import json, sys
from pathlib import Path

runs_root, out = Path(sys.argv[1]), Path(sys.argv[2])
def read(path):
    return json.loads(path.read_text()) if path.is_file() else None
summary = {part: (out / f"{part}.exit").read_text().strip() if (out / f"{part}.exit").is_file() else "not run"
           for part in ("units_fp32", "units_bf16", "one_seed", "three_seeds", "leakgan")}
summary = {"exit": summary, "units": {p: read(out / f"units_{p}.json") for p in ("fp32", "bf16")}, "seeds": {}}
for seed_dir in sorted(p for p in runs_root.glob("*/seed-*") if p.is_dir()):
    key = seed_dir.name if seed_dir.parent.name == "oracle" else f"{seed_dir.parent.name}/{seed_dir.name}"
    finished = read(seed_dir / "summary.json")
    progress = {}
    for run in sorted(p for p in seed_dir.iterdir() if (p / "metrics.jsonl").is_file()):
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        progress[run.name] = {"phase": lines[-1]["phase"], "step": lines[-1]["step"]} if lines else None
    summary["seeds"][key] = {
        "finished": finished is not None,
        "seconds": finished and finished.get("seconds"),
        "peak_gpu_memory_bytes": finished and finished.get("peak_gpu_memory_bytes"),
        "final": finished and finished.get("final"),
        "last_logged": progress,
    }
summary["results"] = read(runs_root / "oracle" / "results.json")
summary["leakgan_results"] = read(runs_root / "leakgan" / "results.json")
(out / "summary.json").write_text(json.dumps(summary, indent=2))
EOF
mkdir -p "$OUT/results"
(cd "$RUNS" 2>/dev/null && find oracle leakgan -name checkpoints -prune -o -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.md' \
    -o -name '*.png' -o -name '*.log' \) -print 2>/dev/null | tar cf - -T - | tar xf - -C "$OUT/results")
log "done; summary in $OUT/summary.json"
