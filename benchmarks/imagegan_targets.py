"""The issue's quality targets for imagegan: train each model, evaluate it, check the target.

| target          | model    | data   | measure                                           | goal   |
|-----------------|----------|--------|---------------------------------------------------|--------|
| infogan-mnist   | infogan  | mnist  | categorical-code accuracy (best code→digit match) | ≥ 0.95 |
| cgan-mnist      | cgan     | mnist  | label accuracy of samples by the held-out classifier | ≥ 0.95 |
| dcgan-mnist     | dcgan    | mnist  | classifier-FID vs the test set, sample grid       | report |
| wgan-gp-mnist   | wgan-gp  | mnist  | classifier-FID vs the test set, sample grid       | report |
| stackgan-shapes | stackgan | shapes | caption match (colour and shape), stage II sharper | ≥ 0.90 |

Each target is ``imagegan train`` followed by ``imagegan eval`` (in this process); results go to
``OUT/results.json`` and ``OUT/results.md``, with every run directory (grids, curves, logs) under
``OUT``. ``--profile gpu`` (default) runs the full step counts the targets are meant for;
``--profile cpu`` runs the shorter schedules (width 32 for DCGAN, WGAN-GP and StackGAN, 32-pixel StackGAN)
measured on the 2-core development machine in docs/imagegan.md. ``--scale`` multiplies the
step counts of either (0.05: a smoke run that says nothing about the targets).

Examples::

    python benchmarks/imagegan_targets.py --data-dir ../shared/data/mnist --compile          # GPU
    OMP_NUM_THREADS=1 python benchmarks/imagegan_targets.py --profile cpu --only cgan-mnist    # CPU
    python benchmarks/imagegan_targets.py --only cgan-mnist --scale 0.1 --classifier-limit 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

TARGETS = {
    "infogan-mnist": {"model": "infogan", "data": "mnist", "image_size": 28, "steps": 10_000, "batch_size": 64,
                      "key": "categorical_code_accuracy", "goal": 0.95},
    "cgan-mnist": {"model": "cgan", "data": "mnist", "image_size": 28, "steps": 20_000, "batch_size": 64,
                   "key": "label_accuracy", "goal": 0.95},
    "dcgan-mnist": {"model": "dcgan", "data": "mnist", "image_size": 32, "steps": 10_000, "batch_size": 128,
                    "key": "fid", "goal": None},
    "wgan-gp-mnist": {"model": "wgan-gp", "data": "mnist", "image_size": 32, "steps": 10_000, "batch_size": 64,
                      "key": "fid", "goal": None},
    "stackgan-shapes": {"model": "stackgan", "data": "shapes", "image_size": 64, "steps": 10_000, "batch_size": 64,
                        "key": "caption_match", "goal": 0.90},
}  # fmt: skip

#: What ``--profile cpu`` changes (one CPU thread per target; two targets run side by side on 2 cores).
CPU_PROFILE = {
    "infogan-mnist": {"steps": 3_000},
    "cgan-mnist": {},
    "dcgan-mnist": {"steps": 2_000, "width": 32},
    "wgan-gp-mnist": {"steps": 3_000, "width": 32},
    "stackgan-shapes": {"steps": 4_000, "image_size": 32, "width": 32},
}


def small_classifier(data: str, data_dir: str | None, image_size: int, limit: int, epochs: int, device: torch.device):
    """A feature classifier trained on the first ``limit`` training images (for CPU runs)."""
    from imagegan.data import load_dataset
    from imagegan.metrics import train_classifier

    train = load_dataset(data, data_dir, image_size, "train", limit=limit)
    test = load_dataset(data, data_dir, image_size, "test", limit=2000, seed=1)
    classifier, _ = train_classifier(train, epochs=epochs, device=device, progress=False, test_dataset=test)
    return classifier


def target_settings(name: str, profile: str) -> dict:
    """The target's settings under ``profile`` (gpu: as in TARGETS; cpu: with CPU_PROFILE's changes)."""
    return {**TARGETS[name], **(CPU_PROFILE[name] if profile == "cpu" else {})}


def run_target(name: str, spec: dict, args: argparse.Namespace, out: Path, seed: int) -> dict:
    from imagegan.cli import main as imagegan
    from imagegan.cli import open_trained_run
    from imagegan.evaluate import evaluate_run

    steps = max(1, round(spec["steps"] * args.scale))
    width = args.width or spec.get("width", 64)
    run_dir = out / (name if len(args.seeds) == 1 else f"{name}-seed{seed}")
    data_dir = args.data_dir if spec["data"] != "shapes" else None
    argv = ["train", "--model", spec["model"], "--data", spec["data"], "--image-size", str(spec["image_size"]),
            "--steps", str(steps), "--batch-size", str(spec["batch_size"]), "--width", str(width),
            "--device", args.device, "--seed", str(seed), "--out", str(run_dir), "--sample-every", str(max(1, steps // 5)),
            "--checkpoint-every", str(max(1, steps // 5)), "--log-every", str(max(1, steps // 200)), "--quiet"]  # fmt: skip
    if data_dir:
        argv += ["--data-dir", data_dir]
    if args.compile:
        argv.append("--compile")
    start = time.perf_counter()
    if imagegan(argv) != 0:
        raise SystemExit(f"training {name} failed: {' '.join(argv)}")
    train_s = time.perf_counter() - start
    run, config, info, model = open_trained_run(str(run_dir), None, args.device)
    classifier = None
    if args.classifier_limit:
        classifier = small_classifier(spec["data"], data_dir, spec["image_size"], args.classifier_limit, args.classifier_epochs, model.device)
    num = args.num or max(1000, round(10_000 * min(1.0, args.scale)))
    start = time.perf_counter()
    scores = evaluate_run(run, config, info, model, num=num, data_dir=data_dir, cache_dir=str(out / ".classifiers"), classifier=classifier)
    value, goal = scores[spec["key"]], spec["goal"]
    passed = None if goal is None else value >= goal
    if name == "stackgan-shapes":
        passed = passed and scores["sharpness_stage2"] > scores["sharpness_stage1"]
    return {"target": name, "seed": seed, "command": "imagegan " + " ".join(argv), "steps": steps, "width": width,
            "image_size": spec["image_size"], "train_s": round(train_s, 1),
            "eval_s": round(time.perf_counter() - start, 1), "key": spec["key"], "value": value, "goal": goal,
            "passed": passed, "scores": scores}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Run imagegan's quality targets.")
    parser.add_argument("--only", nargs="+", choices=sorted(TARGETS), default=None, help="targets to run (default all)")
    parser.add_argument("--profile", choices=("gpu", "cpu"), default="gpu", help="full schedules (gpu) or the shorter CPU ones")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the profile's step counts")
    parser.add_argument("--data-dir", default="../shared/data/mnist", help="where MNIST's IDX files are")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--width", type=int, default=None, help="model width (default the profile's: the papers' 64)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train each target once per seed")
    parser.add_argument("--num", type=int, default=None, help="images to score (default 10,000 × scale, at least 1,000)")
    parser.add_argument("--classifier-limit", type=int, default=None,
                        help="train the feature classifier on this many images instead of using the cached full one")
    parser.add_argument("--classifier-epochs", type=int, default=2)
    parser.add_argument("--out", default=None, help="results folder (default runs/targets-<time>)")
    args = parser.parse_args()
    from runcore import RunDir, resolve_device

    device = resolve_device(args.device)
    out = Path(args.out) if args.out else RunDir.default_path("runs", "targets")
    out.mkdir(parents=True, exist_ok=False)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    results = []
    for name, seed in [(name, seed) for name in args.only or TARGETS for seed in args.seeds]:
        result = run_target(name, target_settings(name, args.profile), args, out, seed)
        results.append(result)
        print(f"{name:16s} seed {seed} {result['key']} = {result['value']:.4g} (goal {result['goal']}) passed={result['passed']} "
              f"[{result['steps']} steps, train {result['train_s']} s, eval {result['eval_s']} s]", flush=True)  # fmt: skip
        (out / "results.json").write_text(json.dumps({"machine": machine, "profile": args.profile, "scale": args.scale, "results": results}, indent=2))
    lines = [f"Machine: {machine}; profile {args.profile}; scale {args.scale}; compile {args.compile}", "",
             "| target | seed | steps | width | size | measure | value | goal | passed | FID | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['target']} | {r['seed']} | {r['steps']} | {r['width']} | {r['image_size']} | {r['key']} | {r['value']:.4g} | {r['goal']} | {r['passed']} | {r['scores']['fid']:.4g} | {r['train_s']} |")
    if len(args.seeds) > 1:
        lines += ["", "| target | measure | mean ± std over seeds | best | seeds passed |", "|---|---|---|---|---|"]
        for name in args.only or TARGETS:
            values = torch.tensor([r["value"] for r in results if r["target"] == name], dtype=torch.float64)
            passed = sum(bool(r["passed"]) for r in results if r["target"] == name)
            lines.append(f"| {name} | {TARGETS[name]['key']} | {values.mean():.4g} ± {values.std():.2g} | {(values.min() if TARGETS[name]['key'] == 'fid' else values.max()):.4g} | {passed} of {len(values)} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
