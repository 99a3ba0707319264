"""``MODEL_CARD.md`` beside a pretrained encoder: what it learned from, how, and for how long."""

from __future__ import annotations

from typing import Any

from molgraph.pretrain.result import PretrainResult


def write_card(result: PretrainResult, recipe: dict[str, Any]) -> None:
    """Write ``result.out/MODEL_CARD.md``."""
    config, out = result.config, result.out
    model = config.model
    sizes = {p.name: p.stat().st_size for p in out.glob("*.pt")}
    epochs = "\n".join(f"| {r['epoch']} | {r['train_loss']:.4f} | {r['val_loss']:.4f} | "
                       f"{r['seconds']} | {r['train_mol_per_s']} |" for r in result.history)
    text = f"""# Pretrained encoder: {model.name}, hidden {model.hidden_channels}, \
{model.num_layers} layers

- **Data:** {recipe['molecules']:,} molecules of `{config.data}` (a random subset, seed \
{config.seed}); {recipe['train']:,} trained on, {recipe['val']:,} held out.
- **Targets:** {len(result.descriptors)} RDKit 2D descriptors (molgraph.chem.molfeatures), \
log-transformed where they exceed 100 in magnitude, standardised on the training molecules and \
clipped at 6 SD; {config.mask_fraction:.0%} of the targets hidden from the loss at each step \
(CheMeleon's recipe, with descriptors RDKit computes here instead of Mordred's).
- **Training:** {len(result.history)} epochs, batch {config.train.batch_size}, lr \
{config.train.lr:g}, AdamW; the encoder of epoch {result.best_epoch} (lowest validation loss, \
{result.best_val_loss:.4f}) is kept. Wall time of the last session: {result.seconds:.0f} s.
- **Files:** `encoder.pt` ({sizes.get('encoder.pt', 0) / 1e6:.2f} MB, a plain state dict \
without the head), `encoder.json`, `checkpoint.pt` ({sizes.get('checkpoint.pt', 0) / 1e6:.2f} \
MB, to continue). Use: `molgraph train --init-from {out} ...` (`--freeze-encoder` trains the \
head alone); `molgraph fingerprint --model {out} ...` writes its molecule vectors.
- **Where it helps and where it hurts:** measure it on your task; a pretrained start is not \
better everywhere (CheMeleon got worse on HIV, QM9 and SAMPL7).

| epoch | train loss | validation loss | seconds | molecules/s |
|---|---|---|---|---|
{epochs}
"""
    (out / "MODEL_CARD.md").write_text(text)
