"""The ``freqrex`` command line (SPEC section 7): explain, models, app."""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Sequence

from ..errors import first_line

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="freqrex", description="Which frequencies does an audio "
                                "classifier's decision depend on? (FreqReX)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser("explain", help="explain a model's label for an audio file")
    e.add_argument("audio", help="WAV, FLAC, OGG or MP3 file")
    e.add_argument("--model", default=None,
                   help="built-in id (see 'freqrex models'), hf:<id or folder>, or "
                        "package.module:factory (default: the built-in default model)")
    e.add_argument("--labels-view", default=None, help="active labels, e.g. 'genres' (default: all)")
    e.add_argument("--start", type=float, default=0.0, help="excerpt start in seconds (default 0)")
    e.add_argument("--duration", type=float, default=30.0, help="excerpt length in seconds (default 30)")
    e.add_argument("--budget", type=int, default=None, help="maximum model queries (default: unbounded)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e.add_argument("--no-stft", action="store_true", help="skip the STFT (time-frequency) variant")
    e.add_argument("--contrast", default=None, metavar="LABEL",
                   help="a foil label: why the model's label and not this one?")
    e.add_argument("--flip-search", choices=("auto", "gradient", "black-box"), default="auto",
                   help="how the least audible flips are searched: the model's gradient where "
                        "it is differentiable (auto, the default), or black-box")
    e.add_argument("--batch-size", type=int, default=32, help="mutants per model call (default 32)")
    e.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    m = sub.add_parser("models", help="list the models")
    m.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    from ..evaluation.cli import add_parser as add_evaluate
    add_evaluate(sub)

    a = sub.add_parser("app", help="serve the web app")
    a.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    a.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    a.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _explain(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..audio import load_audio
    from ..engine import explain
    from ..models import resolve_model

    model = resolve_model(args.model, args.labels_view)
    audio = load_audio(args.audio, sample_rate=model.sample_rate, start=args.start,
                       duration=args.duration)
    bar = tqdm(total=100, unit="%", desc="explaining", file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        exp = explain(audio, model, budget=args.budget, seed=args.seed, stft=not args.no_stft,
                      contrast=args.contrast, flip_search=args.flip_search, progress=progress,
                      batch_size=args.batch_size)
    finally:
        bar.close()
    written = exp.save(args.out, figures=not args.no_figures)
    print(_summary(exp, written["explanation"]))
    return 0


def _db(value: float | None) -> str:
    return "inf" if value is None else f"{value:.1f}"


def _heard(f: dict, suffix: str = "") -> str:
    """``MOS 4.97 (Zimtohrli 0.0003), SNR 35.9 dB`` of a sound's JSON entry."""
    mos, z = f.get(f"mos{suffix}"), f.get(f"zimtohrli{suffix}")
    snr = f"SNR {_db(f.get(f'snr_db{suffix}'))} dB"
    return snr if mos is None else f"MOS {mos:.3f} (Zimtohrli {z:.5f}), {snr}"


def _least_audible(exp) -> str:
    """The headline: the least audible verified change of the decision, by the hearing model
    (the flips and the removal of the sufficient-and-necessary set; with a foil, only the foil
    on top is a change)."""
    from ..audio.hearing import words

    found = exp.verified_flips()
    if not found:
        what = ("changed the decision" if exp.contrast is None else
                f"made the model hear {exp.contrast} over {exp.label}")
        return f"no change tried {what} within the budget"
    p = found[0]
    what = f"{p.k} time-frequency cells" if p.kind.cells else f"{p.k} frequencies"
    how = "removing" if p.gain == 0 else f"attenuating to {p.gain:.0%}"
    return (f"least audible change: {how} {what} makes the model hear {p.label} "
            f"({p.confidence:.3f}); {words(p.heard)}: {_heard(exp.heard(p.name))}  "
            f"[{p.name.replace('_', ' ')}, found by {p.search} search]")


def _kept_words(exp, s: dict) -> str:
    """With a foil: what keeping a set verifies (the label ahead of the foil), and its top-1."""
    top = s.get("label", s.get("label_kept"))
    return (f"; keeps {exp.label} ahead of {exp.contrast}"
            + (f" (top-1: {top})" if top != exp.label else ""))


def _summary(exp, json_path: Path) -> str:
    d = exp.to_dict()
    lines = [f"{exp.model} [{exp.labels_view}]: {exp.label} ({exp.confidence:.3f})"
             + (f", and not {exp.contrast}" if exp.contrast else "")
             + f" after {exp.queries} model calls in {exp.seconds:.1f} s"
             + ("  (budget exhausted)" if exp.budget_exhausted else ""),
             "  " + _least_audible(exp),
             f"  least audible flips searched by: {exp.flip_search} "
             f"({exp.gradients} gradient passes)"]
    for key, what in (("quiet_flip", "bins"), ("stft_flip", "cells")):
        f = d[key]
        n = f and (f["n_cells"] if key == "stft_flip" else f["n_bins"])
        lines.append(f"  {key.replace('_', ' ')}: " + (
            f"{n} {what} ({100 * f['fraction']:.2f}%), gain {f['gain']:.2f} -> {f['label']}, "
            f"{_heard(f)}, {f['search']}" if f
            else f"none ({d['notes'].get(key, 'disabled')})"))
    for f in d["flips"]:
        hz = ", ".join(f"{h:.1f}" for h in f["hz"])
        lines.append(f"  flip-{f['k']}: remove {hz} Hz -> {f['label']} ({f['confidence']:.3f})"
                     f"{'  FLIPPED' if f['flipped'] else ''}  {_heard(f)}")
    for key in ("sufficient", "necessary", "complete"):
        s = d[key]
        heard = ("" if not s else f"; removed: {_heard(s, '_removed')}" if key == "necessary"
                 else f"; kept: {_heard(s)}")
        lines.append(f"  {key}: " + (f"{s['n_bins']} bins ({100 * s['fraction']:.4f}% of bins, "
                                     f"{100 * s['energy_fraction']:.2f}% of energy){heard}" if s
                                     else f"not found ({d['notes'].get(key, '')})")
                     + (_kept_words(exp, s) if s and exp.contrast else ""))
    lines.append(f"written to {json_path.parent}")
    return "\n".join(lines)


def _models(_: argparse.Namespace) -> int:
    from .. import models
    for model_id in models.list_models():
        info = models.model_info(model_id)
        default = "  (default)" if model_id == models.DEFAULT_MODEL else ""
        views = ", ".join(info.get("views", {}))
        print(f"{model_id:14s} {info.get('description', '')}  [views: {views}]{default}")
    return 0


def _app(args: argparse.Namespace) -> int:
    from ..web import launch
    launch(host=args.host, port=args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    from ..evaluation.cli import run as _evaluate
    commands = {"explain": _explain, "models": _models, "app": _app, "evaluate": _evaluate}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("freqrex: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, unless asked for the traceback
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"freqrex: error: {first_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
