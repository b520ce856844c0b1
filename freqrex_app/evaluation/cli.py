"""``freqrex evaluate``: explain many clips with many models, against baselines (SPEC section 8).

    freqrex evaluate CLIPS... --models ID... [--labels-view V] [--budget N] [--duration D]
                     [--no-whitebox] [--workers N | --ray ADDRESS] --out DIR

CLIPS are audio files or folders (their audio files, sorted). Finished clip x model jobs are
skipped on a rerun with the same settings; the report is rewritten from every row at the end.
"""
from __future__ import annotations

import argparse
import shlex
import time
import sys
from pathlib import Path

__all__ = ["add_parser", "run", "collect_clips"]

AUDIO_EXT = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif"}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="evaluate explanations on many clips (SPEC section 8)",
                       description="Explain every clip with every model, run the baselines "
                                   "(random, loudest, single-band occlusion, gradient saliency) "
                                   "at the same k, the quietest-cells STFT gate and, for torch "
                                   "models, the white-box reference, and write per-clip rows "
                                   "(CSV, JSON) and a report (Markdown, PNG).")
    p.add_argument("clips", nargs="+", help="audio files or folders of audio files")
    p.add_argument("--models", nargs="+", default=None, metavar="ID",
                   help="model ids (default: the built-in default model)")
    p.add_argument("--labels-view", default=None, help="active labels, e.g. 'genres' (default: all)")
    p.add_argument("--budget", type=int, default=300,
                   help="model queries per explanation (default 300; 0 = unbounded)")
    p.add_argument("--duration", type=float, default=30.0, help="excerpt length in s (default 30)")
    p.add_argument("--start", type=float, default=0.0, help="excerpt start in s (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-stft", action="store_true", help="skip the STFT variant")
    p.add_argument("--random-draws", type=int, default=1,
                   help="random-bin baseline draws per clip (default 1)")
    p.add_argument("--occlusion-bands", type=int, default=64,
                   help="bands of the occlusion baseline (default 64)")
    p.add_argument("--fill", type=float, default=None, help="value of removed bins (default 0)")
    p.add_argument("--min-width", type=int, default=None, help="smallest part in bins (default 1)")
    p.add_argument("--iterations", type=int, default=None, help="random partitions (default: from budget)")
    p.add_argument("--batch-size", type=int, default=None, help="mutants per model call (default 32)")
    p.add_argument("--no-whitebox", action="store_true",
                   help="skip the white-box reference and the gradient saliency (torch models)")
    p.add_argument("--no-audio", action="store_true", help="do not keep the WAVs of the removals")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--workers", type=int, default=1, help="local processes, one clip each (default 1)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the jobs on a Ray cluster ('auto', 'ray://host:10001', or 'local' "
                        "to start one here); needs the [ray] extra")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the report from the rows already in --out")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def collect_clips(items: list[str]) -> list[str]:
    clips: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            clips += sorted(str(c) for c in p.iterdir() if c.suffix.lower() in AUDIO_EXT)
        elif p.is_file():
            clips.append(str(p))
        else:
            raise ValueError(f"no such clip or folder: {item}")
    if not clips:
        raise ValueError("no audio files among the clips given")
    return clips


def _command(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    return "freqrex " + " ".join(shlex.quote(a) for a in argv)


def run(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from .report import _fmt, _pct, write_report
    from .runner import Settings, is_done, load_rows, make_jobs, run_jobs

    out = Path(args.out)
    command = getattr(args, "command_line", None) or _command()
    if args.report_only:
        rows = load_rows(out)
        write_report(rows, out, command=None)
        print(f"report of {len(rows)} rows written to {out / 'report.md'}")
        return 0
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    clips = collect_clips(args.clips)[: args.limit]
    from .. import models as registry
    model_ids = args.models or [registry.DEFAULT_MODEL]
    engine = {k: v for k, v in (("fill", args.fill),
                                ("min_width", args.min_width), ("iterations", args.iterations),
                                ("batch_size", args.batch_size))
              if v is not None}
    settings = Settings(labels_view=args.labels_view, budget=args.budget or None,
                        duration=args.duration, start=args.start, seed=args.seed,
                        stft=not args.no_stft, draws=args.random_draws, bands=args.occlusion_bands,
                        save_audio=not args.no_audio, whitebox=not args.no_whitebox,
                        engine=engine)
    for m in model_ids:  # fail early on a bad id or view, before any work
        from .runner import _model
        _model(m, args.labels_view)
    jobs = make_jobs(clips, model_ids, settings, str(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(command + "\n")
    n_done = sum(is_done(j) for j in jobs)
    bar = tqdm(total=len(jobs), initial=0, unit="clip", desc="evaluating", file=sys.stderr,
               dynamic_ncols=True)
    errors: list[dict] = []
    skipped = 0

    def on_done(row: dict, was_skipped: bool) -> None:
        nonlocal skipped
        skipped += was_skipped
        if "error" in row:
            errors.append(row)
            tqdm.write(f"freqrex: {row['model']} / {row['clip']} failed: {row['error']}", file=sys.stderr)
        else:
            flips = "".join("x" if row.get(f"freqrex_flip_{k}") else "." for k in range(1, 6))
            bar.set_postfix_str(f"{row['clip'][:28]} {row['label']} flips {flips}", refresh=False)
        bar.update(1)

    last = [0.0]

    def on_progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:  # at most once a second
            last[0] = now
            bar.set_postfix_str(f"{100 * fraction:3.0f}% {message}"[:60], refresh=True)

    try:
        run_jobs(jobs, workers=args.workers, ray_address=args.ray, on_done=on_done,
                 on_progress=on_progress)
    finally:
        bar.close()
    rows = [json.loads((j.folder / "row.json").read_text()) for j in jobs if is_done(j)]
    summary = write_report(rows, out, command=command, errors=errors)
    print(f"{len(jobs)} jobs: {skipped} already done (skipped), {len(jobs) - skipped - len(errors)} "
          f"run now, {len(errors)} failed; {n_done} were done before")
    for model, m in summary.items():
        def rates(method: str) -> str:
            return " ".join(_pct(r) for r in m[f"{method}_rate"])

        print(f"  {model}: {m['clips']} clips, flip@1..5 {rates('freqrex')}; random "
              f"{rates('random')}; loudest {rates('loudest')}; occlusion {rates('occlusion')}; "
              f"saliency {rates('saliency')}; white-box {rates('whitebox')}")
        for name, what in (("quiet", "quiet flip"), ("stft", "STFT flip"),
                           ("quietest_stft", "quietest cells"),
                           ("whitebox_quiet", "white-box quiet flip"),
                           ("whitebox_stft", "white-box STFT flip")):
            if m.get(f"{name}_flip") is not None:
                print(f"    {what} {_pct(m[f'{name}_flip'])} (median SNR "
                      f"{_fmt(m[f'{name}_snr_median'])} dB; at >= 30/35/40 dB "
                      f"{_pct(m[f'{name}_at_30'])}/{_pct(m[f'{name}_at_35'])}/{_pct(m[f'{name}_at_40'])})")
    print(f"report: {out / 'report.md'}")
    return 1 if errors else 0
