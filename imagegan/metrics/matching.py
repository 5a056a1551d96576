"""Best one-to-one matching (the Hungarian algorithm) and InfoGAN's categorical-code accuracy."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["categorical_code_accuracy", "linear_assignment"]


def linear_assignment(cost) -> np.ndarray:
    """The assignment of rows to distinct columns with the least total cost (exact).

    The Hungarian algorithm with potentials (Kuhn–Munkres, as Jonker–Volgenant write it),
    O(n² m) for an ``n x m`` matrix.

    Args:
        cost: ``(n, m)`` finite costs with ``n <= m``.

    Returns:
        int64 ``(n,)``: the column of each row.

    Examples:
        >>> linear_assignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]]).tolist()
        [1, 0, 2]
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] > cost.shape[1]:
        raise ValueError(f"need an (n, m) cost matrix with n <= m, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("costs must be finite")
    n, m = cost.shape
    # 1-based as in the classic formulation: column 0 is a virtual start column.
    row_potential = np.zeros(n + 1)
    col_potential = np.zeros(m + 1)
    row_of_col = np.zeros(m + 1, dtype=np.int64)  # 0 = unassigned
    previous_col = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        row_of_col[0] = row
        col = 0
        slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:  # grow an alternating tree until it reaches a free column
            used[col] = True
            current_row = row_of_col[col]
            free = ~used[1:]
            reduced = cost[current_row - 1] - row_potential[current_row] - col_potential[1:]
            better = free & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            previous_col[1:][better] = col
            candidates = np.where(free, slack[1:], np.inf)
            next_col = int(np.argmin(candidates)) + 1
            delta = candidates[next_col - 1]
            row_potential[row_of_col[used]] += delta
            col_potential[used] -= delta
            slack[~used] -= delta
            col = next_col
            if row_of_col[col] == 0:
                break
        while col:  # flip the augmenting path
            prev = previous_col[col]
            row_of_col[col] = row_of_col[prev]
            col = prev
    assignment = np.empty(n, dtype=np.int64)
    for col in range(1, m + 1):
        if row_of_col[col]:
            assignment[row_of_col[col] - 1] = col - 1
    return assignment


def categorical_code_accuracy(codes, predicted_classes, num_classes: int) -> float:
    """InfoGAN's accuracy: the share of samples whose code maps to their predicted class.

    Codes are matched one-to-one to classes so as to maximise the number of agreeing samples
    (the best permutation, found exactly by :func:`linear_assignment`), since the generator is
    free to use any code for any digit.

    Args:
        codes: int ``(N,)`` categorical code of each generated sample.
        predicted_classes: int ``(N,)`` class the classifier assigns to each sample.
        num_classes: number of classes (codes and classes beyond it widen the matrix).

    Examples:
        >>> categorical_code_accuracy([0, 0, 1, 1, 2], [2, 2, 0, 1, 1], 3)
        0.8
    """
    codes = torch.as_tensor(codes).reshape(-1).cpu().numpy().astype(np.int64)
    classes = torch.as_tensor(predicted_classes).reshape(-1).cpu().numpy().astype(np.int64)
    if codes.shape != classes.shape or codes.size == 0:
        raise ValueError(f"{codes.size} codes and {classes.size} predictions: need the same, non-zero number")
    if codes.min() < 0 or classes.min() < 0:
        raise ValueError("codes and classes must be non-negative integers")
    size = max(num_classes, int(codes.max()) + 1, int(classes.max()) + 1)
    agree = np.zeros((size, size), dtype=np.int64)
    np.add.at(agree, (codes, classes), 1)
    match = linear_assignment(-agree)
    return float(agree[np.arange(size), match].sum() / codes.size)
