"""``phenoscope train``: train the ViT encoder (MAE, DINO, or weakly supervised by plate maps)."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._options import positive_int


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the ViT encoder on plates: self-supervised (MAE, DINO) or from plate maps",
        description="Segment and crop every cell of the plates (cached beside OUT), then "
        "train the five-channel ViT with MAE or DINO, or (--method weak) fine-tune it to "
        "classify each cell's treatment (--label-column of the plate maps). Writes OUT "
        "(safetensors + .sha256), OUT's .losses.csv and a checkpoint (.ckpt.safetensors) "
        "to --resume from.",
    )
    parser.add_argument("plates", nargs="+", metavar="PLATE_DIR", help="project or plate folder")
    parser.add_argument(
        "--method", choices=("mae", "dino", "weak"), default="mae", help="(default: mae)"
    )
    parser.add_argument(
        "--label-column",
        default="Metadata_broad_sample",
        help="weak: the plate-map column holding each well's treatment "
        "(default: Metadata_broad_sample)",
    )
    parser.add_argument("--out", required=True, metavar="MODEL.safetensors", help="weights file")
    parser.add_argument(
        "--epochs", type=positive_int, default=10, help="passes over the cells (default: 10)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--resume", metavar="CKPT", help="checkpoint to continue from")
    parser.add_argument(
        "--init", metavar="MODEL|bundled", help="fine-tune: start from these weights"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=64, help="crops per step (default: 64)"
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--crop-size", type=int, default=64, help="crop side in px (default: 64)")
    parser.add_argument(
        "--normalization",
        choices=("field", "plate"),
        default="field",
        help="crop intensity scaling per field or per plate, stored in the weights (field)",
    )
    parser.add_argument(
        "--dino-intensity-jitter",
        type=float,
        default=0.2,
        help="DINO views' per-channel gain jitter (default: 0.2; 0 keeps intensity phenotypes)",
    )
    parser.add_argument(
        "--checkpoint-every", type=positive_int, default=500, help="steps between checkpoints"
    )
    parser.add_argument("--max-fields", type=int, help="use only the first N fields")
    parser.add_argument("--max-minutes", type=float, help="stop (resumably) after N minutes")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the training configuration from the arguments, train, print a summary."""
    import torch

    from napari_phenoscope.training.loops import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        method=args.method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        crop_size=args.crop_size,
        checkpoint_every=args.checkpoint_every,
        normalization=args.normalization,
        dino_intensity_jitter=args.dino_intensity_jitter,
        label_column=args.label_column,
    )
    crop_options = {"max_fields": args.max_fields, "channel_map": args.channel_map}
    result = train(
        args.plates,
        args.out,
        config,
        device=args.device,
        resume=args.resume,
        init=args.init,
        progress=not args.no_progress,
        max_minutes=args.max_minutes,
        crop_options={k: v for k, v in crop_options.items() if v is not None},
    )
    state = (
        "done" if result.completed else f"stopped early; resume with --resume {result.checkpoint}"
    )
    print(
        f"{config.method}: {result.n_cells} cells, step {result.steps}/{result.total_steps} "
        f"({state}), loss {result.first_loss:.4f} -> {result.last_loss:.4f}; "
        f"weights {result.weights}, losses {result.loss_log}"
    )
    return 0
