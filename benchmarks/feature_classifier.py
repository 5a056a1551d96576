"""imagegan's feature classifier on MNIST: test accuracy, training time, and sanity of its metrics.

Run from the repository root (MNIST's 4 IDX files in --data-dir):

    nice -n 10 python benchmarks/feature_classifier.py                  # data from ../shared/data/mnist
    python benchmarks/feature_classifier.py --epochs 1 --device cuda

Prints one table: the classifier's test accuracy (target > 95%) and training seconds; the
classifier-FID and KID between two halves of the real test set (near 0) and between the test set
and the same images with their pixels shuffled (large); and PacGAN's mode count and KL on real
stacked-MNIST test images (near 1,000 and 0).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from imagegan.data import load_dataset
from imagegan.metrics import score_images, stacked_mnist_modes, train_classifier

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "data" / "mnist"),
                        help="folder with MNIST's IDX files (directly or in MNIST/raw)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs")
    parser.add_argument("--image-size", type=int, default=28, help="image side (28 native; 32 or 64 for DCGAN)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train = load_dataset("mnist", args.data_dir, args.image_size, "train")
    test = load_dataset("mnist", args.data_dir, args.image_size, "test")
    start = time.perf_counter()
    classifier, info = train_classifier(train, epochs=args.epochs, device=args.device, test_dataset=test)
    seconds = time.perf_counter() - start

    # Random halves: MNIST's test set is ordered (its first 5,000 digits are the cleaner writers').
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(test), generator=generator)
    first, second = test.images[order[: len(test) // 2]], test.images[order[len(test) // 2 :]]
    shuffled = second.flatten(1)[:, torch.randperm(args.image_size**2, generator=generator)].view_as(second)
    same = score_images(first, second, classifier)
    noise = score_images(first, shuffled, classifier)
    stacked = load_dataset("stacked-mnist", args.data_dir, args.image_size, "test", limit=10_000)
    modes = stacked_mnist_modes(classifier, stacked.images)

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    table = Table(title=f"feature classifier on MNIST {args.image_size}x{args.image_size}, {device}, "
                        f"torch threads {torch.get_num_threads()}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"test accuracy ({info['n_test']} images)", f"{info['test_accuracy']:.4f}")
    table.add_row(f"training seconds ({args.epochs} epochs, {info['n_train']} images)", f"{seconds:.1f}")
    table.add_row("weights hash", info["hash"])
    table.add_row("classifier-FID test half vs half", f"{same['fid']:.3f}")
    table.add_row("classifier-FID test vs pixel-shuffled", f"{noise['fid']:.1f}")
    table.add_row("KID test half vs half", f"{same['kid']:.5f} ± {same['kid_std']:.5f}")
    table.add_row("KID test vs pixel-shuffled", f"{noise['kid']:.3f} ± {noise['kid_std']:.3f}")
    table.add_row(f"stacked-MNIST modes (real, {modes['n']} images)", str(modes["modes"]))
    table.add_row("stacked-MNIST KL to uniform (real)", f"{modes['kl_to_uniform']:.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()
