"""``molgraph explain``: per-atom attributions of a trained model's predictions."""

from __future__ import annotations

import argparse

from molgraph.cli.options import add_key_option

#: Method names, listed here so that building the parser imports neither torch nor Captum
#: (kept equal to ``molgraph.explain.METHODS`` by the tests).
METHOD_NAMES = ("integrated_gradients", "saliency", "input_x_gradient", "shapley_sampling")
#: Picture styles and the default heat-map size (equal to ``molgraph.explain.picture.STYLES``
#: and ``molgraph.explain.drawing.SIZE``, checked by the tests).
STYLE_NAMES = ("discs", "contours")
DEFAULT_SIZE = (640, 560)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="per-atom attributions of a model's predictions",
        description="Attribute each prediction to the molecule's atoms (and bonds) with Captum "
        "on the encoded atom/bond representations; write atoms.csv, bonds.csv, molecules.csv, "
        "heat maps and grid.png. Invalid rows keep their row number, with an error.")
    p.add_argument("--model", required=True, help="model directory from `molgraph train`")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", nargs="+", metavar="S",
                        help="SMILES to explain (this or --data is required)")
    source.add_argument("--data",
                        help="CSV/TSV/SMI/SDF file, optionally .gz (this or --smiles is required)")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--id-column", help="id column to carry over (default: id, name, ...)")
    p.add_argument("--delimiter", metavar="CHAR",
                   help="CSV/TSV field delimiter: ',', ';' (ChEMBL exports), '|' or tab "
                   "(default: found from the file's first lines)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--method", default=METHOD_NAMES[0], choices=METHOD_NAMES,
                   help="attribution method (default: integrated_gradients, from an all-zero "
                   "baseline)")
    p.add_argument("--target", nargs="+", help="targets to explain (default: all)")
    p.add_argument("--steps", type=int, default=50,
                   help="integrated-gradients steps (default: 50)")
    p.add_argument("--samples", type=int, default=10,
                   help="shapley_sampling permutations (default: 10)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda[:N] (default: auto)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="molecules per attribution pass (default: 64)")
    p.add_argument("--no-draw", action="store_true",
                   help="write the tables only (default: draw the pictures too)")
    p.add_argument("--draw-limit", type=int, default=100,
                   help="heat maps for at most this many molecules (default: 100)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=DEFAULT_SIZE,
                   help="width and height of each heat map in pixels (default: "
                   f"{DEFAULT_SIZE[0]} {DEFAULT_SIZE[1]})")
    p.add_argument("--style", default=STYLE_NAMES[0], choices=STYLE_NAMES,
                   help="discs: each atom and bond coloured by its own value; contours: "
                   "RDKit's similarity-map field, atom values spread as Gaussians "
                   "(default: discs)")
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.explain import explain_file, explain_molecules
    from molgraph.explain.picture import check_size

    size = check_size(args.size, "--size")  # before the attributions, which take a while
    for flag, value in (("--steps", args.steps), ("--samples", args.samples)):
        if value < 1:
            raise ValueError(f"{flag} must be at least 1, not {value}")
    if args.draw_limit < 0:
        raise ValueError(f"--draw-limit must be 0 or more, not {args.draw_limit}")
    options = dict(method=args.method, targets=args.target, device=args.device,
                   batch_size=args.batch_size, n_steps=args.steps, n_samples=args.samples)
    if args.smiles:
        result = explain_molecules(args.model, args.smiles, **options)
    else:
        result = explain_file(args.model, args.data, smiles_column=args.smiles_column,
                              id_column=args.id_column, delimiter=args.delimiter, **options)
    out = result.write(args.out, draw=not args.no_draw, draw_limit=args.draw_limit, size=size,
                       style=args.style)
    n_bad = int((~result.molecules["valid"]).sum())
    print(f"{len(result.molecules)} rows explained with {result.method} ({n_bad} invalid, kept "
          f"with an error) → {out}")
    if result.gnn_weights:
        parts = ", ".join(f"{t} {w:.3g}" for t, w in result.gnn_weights.items())
        print(f"blended model: the attributions explain its GNN part (weight of the GNN: "
              f"{parts}); the SVM's share is not attributed")
    return 0
