"""The arguments the evaluation's clip scripts share: clips, model, labels view, duration."""
from __future__ import annotations

import argparse


def clip_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by ``doc``'s first line, with the clips and the model's settings."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--labels-view", default="genres")
    ap.add_argument("--duration", type=float, default=10.0)
    return ap
