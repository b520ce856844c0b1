#!/usr/bin/env python
"""Throughput of the built-in taggers: clips per second per model, for 10 s and 30 s excerpts,
across batch sizes, in float32 and bfloat16, with the agreement of top-1 labels between the two.

    python benchmarks/models.py                       # the example excerpts in assets/examples
    python benchmarks/models.py --music-dir DIR       # excerpts cut from the audio files in DIR
    python benchmarks/models.py --models msd-musicnn --batches 1 16 --durations 10
    python benchmarks/models.py --max-patches 1 4 --batches 32 --dtypes float32   # patches per network call

Each excerpt is a distinct stretch of real music (the files are read in order and cut into
consecutive excerpts; with few files, excerpts are taken with overlap). A batch of size B cycles
through them. Timings are the best of ``--repeats`` calls of ``predict`` (after the agreement
run has warmed the model up), in wall-clock clips per second and process CPU seconds per clip
(all threads; less sensitive than wall clock to other load on the machine).
Top-1 agreement compares float32 and bfloat16 on every distinct excerpt, over all 50 tags and
over the ``genres`` view. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3", ".opus"}


def load_stream(music_dir: Path, sample_rate: int, max_seconds: float) -> list[np.ndarray]:
    """Mono float32 tracks at ``sample_rate`` from the audio files under ``music_dir``."""
    from freqrex_app.audio.io import load_audio

    files = sorted(p for p in music_dir.rglob("*") if p.suffix.lower() in AUDIO_EXT)
    tracks, total = [], 0.0
    for path in files:
        try:
            audio = load_audio(path, sample_rate=sample_rate, duration=min(120.0, max_seconds))
        except Exception as exc:  # unreadable file: skip it
            print(f"skipping {path.name}: {exc}", file=sys.stderr)
            continue
        tracks.append(audio.samples)
        total += audio.duration
        if total >= max_seconds:
            break
    if not tracks:
        raise SystemExit(f"no readable audio under {music_dir}")
    return tracks


def excerpts(tracks: list[np.ndarray], seconds: float, count: int, sample_rate: int) -> np.ndarray:
    """``count`` distinct excerpts of ``seconds`` (consecutive, overlapping if there is too little music)."""
    stream = np.concatenate(tracks)
    n = int(seconds * sample_rate)
    if len(stream) < n:
        stream = np.tile(stream, int(np.ceil(n / len(stream))))
    span = len(stream) - n
    starts = np.unique(np.linspace(0, span, num=count).astype(np.int64)) if count > 1 else np.array([0])
    return np.stack([stream[s : s + n] for s in starts]).astype(np.float32)


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock seconds of ``repeats`` calls, and the process CPU seconds of that call."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = min(best, (wall, cpu))
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=None, help="model ids (default: the four built-in)")
    ap.add_argument("--durations", nargs="*", type=float, default=[10.0, 30.0])
    ap.add_argument("--batches", nargs="*", type=int, default=[1, 8, 32])
    ap.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"])
    ap.add_argument("--music-dir", type=Path, default=ROOT / "assets" / "examples")
    ap.add_argument("--clips", type=int, default=32, help="distinct excerpts per duration (agreement)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--max-patches", nargs="*", type=int, default=[0],
                    help="3 s patches per network call, each timed in the same run (0: the model's default)")
    args = ap.parse_args(argv)

    import torch

    import freqrex_app.models as M

    if args.threads:
        torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ids = args.models or [m for m in M.list_models() if m in {"msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"}]
    tracks = load_stream(args.music_dir, 16000, max(args.durations) * args.clips)
    clips = {d: excerpts(tracks, d, args.clips, 16000) for d in args.durations}

    rows = []
    for model_id in ids:
        loaded = {dt: M.load_model(model_id, device=args.device, dtype=dt) for dt in args.dtypes}
        device = str(next(iter(loaded.values())).device)
        genres = [loaded[args.dtypes[0]].labels.index(g) for g in M.model_info(model_id)["views"]["genres"]]
        for d in args.durations:
            distinct = clips[d]
            scores = {dt: m.predict(distinct) for dt, m in loaded.items()}  # also warms up
            agree = agree_g = maxdiff = None
            if "float32" in scores and "bfloat16" in scores:
                a, b = scores["float32"], scores["bfloat16"]
                agree = float(np.mean(a.argmax(1) == b.argmax(1)))
                agree_g = float(np.mean(a[:, genres].argmax(1) == b[:, genres].argmax(1)))
                maxdiff = float(np.abs(a - b).max())
            default_chunk = {dt: m.max_patches for dt, m in loaded.items()}
            for batch in args.batches:
                waves = distinct[np.arange(batch) % len(distinct)]
                for chunk in args.max_patches:
                    rate, cpu = {}, {}
                    for dt, m in loaded.items():
                        m.max_patches = chunk or default_chunk[dt]
                        wall, cpu_s = best_time(lambda: m.predict(waves), args.repeats)
                        rate[dt], cpu[dt] = batch / wall, cpu_s / batch
                    rows.append((model_id, d, batch, m.max_patches, rate, cpu, agree, agree_g,
                                 maxdiff, len(distinct)))
                    print(f"{model_id} {d:.0f}s batch {batch} patches/call {m.max_patches}: "
                          + ", ".join(f"{dt} {rate[dt]:.2f} clips/s ({cpu[dt]:.2f} CPU s/clip)"
                                      for dt in rate), file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {device}, load average {load0:.1f} at the start, "
          f"{load:.1f} at the end; best of {args.repeats} calls; excerpts from {args.music_dir.name}/\n")
    head = "| model | excerpt | batch | patches per network call | " + " | ".join(f"{dt} clips/s (CPU s/clip)" for dt in args.dtypes)
    head += " | top-1 agreement fp32 vs bf16 (all tags / genres) | max abs score diff | excerpts |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for model_id, d, batch, chunk, rate, cpu, agree, agree_g, maxdiff, n in rows:
        cells = [model_id, f"{d:.0f} s", str(batch), str(chunk)] + [f"{rate[dt]:.2f} ({cpu[dt]:.2f})" for dt in args.dtypes]
        cells += [f"{agree:.0%} / {agree_g:.0%}" if agree is not None else "-",
                  f"{maxdiff:.3f}" if maxdiff is not None else "-", str(n)]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
