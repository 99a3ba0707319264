"""Inference precisions, named without importing torch (the CLI checks them before any work).

``bf16``: weights and activations in bfloat16 with float32 accumulation in the matrix products.
On CPUs with AVX-512 BF16 or AMX, and on GPUs, a wide model's forward pass is ~2x faster;
scores move by ~1e-2 of their spread and rankings barely (``experiments/RESULTS_screen.md``).
Training always runs in float32.
"""

from __future__ import annotations

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    return precision
