#!/usr/bin/env python3
"""Fetch freely licensed music from Debian and cut evaluation clips from it.

On a Debian/Ubuntu machine with apt (no root needed for ``apt-get download``; run
``apt-get update`` once first if the package lists are empty), this

1. downloads a configurable set of Debian music packages with ``apt-get download`` into a
   cache folder (default ``~/.cache/freqrex/music``), skipping those already there;
2. extracts each with ``dpkg -x`` and checks that its licence file
   (``usr/share/doc/PKG/copyright``) exists (a package without one is skipped);
3. cuts N (default 30) excerpts of 30 s, skipping the first 20 s of each track, mono (mean of
   the channels), at the track's original sample rate, into an output folder as FLAC (24-bit)
   or WAV (32-bit float), and writes ``clips.json`` describing every clip (package and version,
   track, title, artist, licence, start, duration, sample rate, gain).

Clips are taken round-robin over the packages (one track of each in turn, tracks in a seeded
random order), so a small N still spans every package; a track gives a second excerpt (at
20 + 30 s, ...) only once every track has given one. Excerpts that are silent or very quiet
are skipped. Frets on Fire songs ship as stems (``song.ogg`` plus ``guitar.ogg``/
``rhythm.ogg``...): these are summed so the clip is the whole song. A clip whose peak exceeds
full scale (summed stems, Opus overshoot) is scaled down to a 0.99 peak and the gain recorded
(FLAC is integer PCM and would otherwise clip).

Nothing of this is committed: it is input for the evaluation command. Usage::

    python tools/fetch_music.py --out /tmp/freqrex_clips            # 30 clips of 30 s
    python tools/fetch_music.py -n 60 --packages wesnoth-1.16-music singularity-music
    python tools/fetch_music.py --list-packages
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

try:
    from freqrex_app.audio import AudioError, load_audio
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from freqrex_app.audio import AudioError, load_audio

# Debian (bookworm) packages of game music checked by hand: the licence of the music itself,
# as stated in the package's copyright file (or the album's license.txt it points to).
DEFAULT_PACKAGES: dict[str, str] = {
    "wesnoth-1.16-music": "GPL-2.0-or-later",  # orchestral (Battle for Wesnoth composers)
    "singularity-music": "CC-BY-SA-3.0",  # electronic / ambient (Max McCracken)
    "warzone2100-music": "CC-BY-SA-3.0-or-later OR GPL-2.0-or-later",  # electronic (LupusMechanicus)
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",  # metal (Muldjord)
    "fretsonfire-songs-sectoid": "MIT",  # rock / metal (Carlos Viola Iborra), Expat-style permission
    "asc-music": "GPL-2.0-or-later",  # orchestral / synth (Michael Kievernagel)
}
# Per-track licence where it differs from the package's (path substring -> licence).
TRACK_LICENCES: dict[str, str] = {
    "warzone2100/music/albums/original_soundtrack/": "GPL-2.0-or-later",  # Martin Severn, 1999
    "warzone2100/music/menu.opus": "GPL-2.0-or-later",
    "aftermath_soundtrack/track3_enhanced": "GPL-2.0-or-later",  # derived from Severn's track3
}
AUDIO_EXTENSIONS = (".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav")
STEM_NAMES = ("guitar", "rhythm", "drums", "bass", "keys", "vocals")  # summed with song.ogg

DEFAULT_CACHE = Path("~/.cache/freqrex/music").expanduser()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ packages


def download(pkg: str, debs: Path) -> Path:
    """The package's .deb in ``debs``, downloaded with apt-get unless already there."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get not found: this tool needs a Debian or Ubuntu system")
    log(f"downloading {pkg} ...")
    proc = subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, capture_output=True, text=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if proc.returncode != 0 or not found:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        hint = " (run 'apt-get update' first?)" if any("Unable to locate" in r or "No packages" in r for r in reason) else ""
        raise RuntimeError(f"apt-get download {pkg} failed{hint}: {reason[-1] if reason else proc.returncode}")
    return found[-1]


def extract(deb: Path, root: Path) -> Path:
    """Extract ``deb`` with dpkg -x into ``root/<deb stem>`` (once)."""
    dest = root / deb.stem
    marker = dest / ".extracted"
    if not marker.exists():
        if shutil.which("dpkg") is None:
            raise RuntimeError("dpkg not found: this tool needs a Debian or Ubuntu system")
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
        marker.touch()
    return dest


def deb_version(deb: Path) -> str:
    parts = deb.stem.split("_")
    return parts[1].replace("%3a", ":") if len(parts) >= 2 else "?"


def licence_from_copyright(text: str) -> str:
    """A best guess at the licence named in a copyright file (for packages not in the table)."""
    m = re.search(r"^License:\s*(\S.*)$", text, flags=re.M)
    if m:
        return m.group(1).strip()
    for pattern, name in [
        (r"Attribution[- ]ShareAlike\s*3\.0|by-sa/3\.0", "CC-BY-SA-3.0"),
        (r"Attribution[- ]ShareAlike\s*4\.0|by-sa/4\.0", "CC-BY-SA-4.0"),
        (r"creativecommons\.org/licenses/by/", "CC-BY"),
        (r"GNU General Public License", "GPL"),
        (r"Permission is hereby granted, free of charge", "MIT"),
    ]:
        if re.search(pattern, text, flags=re.I):
            return name
    return "unknown (see copyright file)"


# ------------------------------------------------------------------------------------ tracks


@dataclass
class Track:
    package: str
    version: str
    path: Path  # the main file
    rel: str  # path inside the package
    stems: list[Path] = field(default_factory=list)  # summed with path
    rate: int = 0
    seconds: float = 0.0
    title: str = ""
    artist: str = ""
    licence: str = ""
    copyright_file: str = ""


def _album_metadata(path: Path) -> dict:
    album = path.parent / "album.json"
    if not album.exists():
        return {}
    try:
        data = json.loads(album.read_text())
    except (OSError, ValueError):
        return {}
    for t in data.get("tracks", []):
        if t.get("filename") == path.name:
            return {"title": t.get("title", ""), "artist": t.get("author", data.get("author", ""))}
    return {}


def find_tracks(pkg: str, version: str, root: Path, licence: str, min_seconds: float) -> list[Track]:
    tracks = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    stems = {p for p in files if p.stem.lower() in STEM_NAMES and (p.parent / f"song{p.suffix}").exists()}
    for p in files:
        if p in stems:
            continue
        try:
            info = sf.info(str(p))
        except Exception as exc:  # unreadable file in a package: skip it
            log(f"  skip {p.name}: {' '.join(str(exc).split())[:80]}")
            continue
        seconds = info.frames / info.samplerate
        if seconds < min_seconds:
            continue  # sound effects, jingles
        rel = str(p.relative_to(root))
        extra = [s for s in sorted(stems) if s.parent == p.parent] if p.stem.lower() == "song" else []
        meta = _album_metadata(p)
        title = meta.get("title", "")
        artist = meta.get("artist", "")
        try:
            with sf.SoundFile(str(p)) as h:
                title = title or (h.title or "")
                artist = artist or (h.artist or "")
        except Exception:
            pass
        title = re.sub(r"\s*\(fof [^)]*\)$", "", title)  # Frets on Fire stem tags: "X (fof rhythm)"
        if not title:
            title = p.parent.name if p.stem.lower() == "song" else p.stem.replace("_", " ")
        track_licence = licence
        for pattern, lic in TRACK_LICENCES.items():
            if pattern in rel:
                track_licence = lic
        tracks.append(Track(pkg, version, p, rel, extra, int(info.samplerate), seconds, title, artist, track_licence))
    return tracks


def read_clip(track: Track, start: float, seconds: float) -> np.ndarray:
    """Mono samples of the track (its stems summed) at its own rate."""
    total = None
    for p in [track.path, *track.stems]:
        try:
            a = load_audio(p, track.rate, start=start, duration=seconds, min_seconds=seconds * 0.999,
                           max_excerpt_seconds=max(600.0, seconds))
        except AudioError as exc:
            if p != track.path and "silent" in str(exc):
                continue  # a stem that rests here adds nothing
            raise
        x = a.samples.astype(np.float64)
        if total is None:
            total = x
        else:
            n = min(len(total), len(x))
            total = total[:n] + x[:n]
    return total.astype(np.float32)


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES), metavar="PKG",
                    help="Debian packages to take music from (default: %(default)s)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="download/extract folder (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("freqrex_clips"), help="clip folder (default: %(default)s)")
    ap.add_argument("-n", "--n-clips", type=int, default=30, help="number of clips (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=30.0, help="clip length in seconds (default: %(default)s)")
    ap.add_argument("--skip", type=float, default=20.0, help="seconds skipped at each track's start (default: %(default)s)")
    ap.add_argument("--format", choices=["flac", "wav"], default="flac",
                    help="flac (24-bit PCM) or wav (32-bit float) (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="order of the tracks (default: %(default)s)")
    ap.add_argument("--min-rms-db", type=float, default=-40.0,
                    help="skip excerpts quieter than this RMS in dBFS (default: %(default)s)")
    ap.add_argument("--list-packages", action="store_true", help="print the default packages and licences, and exit")
    args = ap.parse_args(argv)

    if args.list_packages:
        for pkg, lic in DEFAULT_PACKAGES.items():
            print(f"{pkg}\t{lic}")
        return 0
    if args.n_clips <= 0 or args.seconds <= 0 or args.skip < 0:
        ap.error("--n-clips and --seconds must be positive, --skip zero or more")

    cache = args.cache.expanduser()
    by_package: dict[str, list[Track]] = {}
    rng = random.Random(args.seed)
    for pkg in args.packages:
        try:
            deb = download(pkg, cache / "debs")
            root = extract(deb, cache / "root")
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            log(f"skip {pkg}: {exc}")
            continue
        copyright_file = root / "usr" / "share" / "doc" / pkg / "copyright"
        if not copyright_file.is_file():
            log(f"skip {pkg}: no licence file usr/share/doc/{pkg}/copyright")
            continue
        licence = DEFAULT_PACKAGES.get(pkg) or licence_from_copyright(copyright_file.read_text(errors="replace"))
        tracks = find_tracks(pkg, deb_version(deb), root, licence, args.skip + args.seconds)
        for t in tracks:
            t.copyright_file = str(copyright_file)
        rng.shuffle(tracks)
        if not tracks:
            log(f"skip {pkg}: no track longer than {args.skip + args.seconds:g} s")
            continue
        by_package[pkg] = tracks
        log(f"{pkg} {deb_version(deb)}: {len(tracks)} tracks, licence {licence}")
    if not by_package:
        log("error: no usable package (is this a Debian/Ubuntu machine with apt lists? try 'apt-get update')")
        return 1

    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    clips: list[dict] = []
    # round robin: (round k, package, track) -> excerpt k of that track
    max_rounds = max(int((t.seconds - args.skip) // args.seconds) for ts in by_package.values() for t in ts)
    for k in range(max_rounds):
        if len(clips) >= args.n_clips:
            break
        queues = {pkg: list(ts) for pkg, ts in by_package.items()}
        while any(queues.values()) and len(clips) < args.n_clips:
            for pkg in list(queues):
                if not queues[pkg] or len(clips) >= args.n_clips:
                    continue
                t = queues[pkg].pop(0)
                start = args.skip + k * args.seconds
                if start + args.seconds > t.seconds:
                    continue
                try:
                    x = read_clip(t, start, args.seconds)
                except AudioError as exc:
                    log(f"  skip {t.rel} @ {start:g} s: {exc}")
                    continue
                rms_db = 20 * math.log10(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-12)
                if rms_db < args.min_rms_db:
                    log(f"  skip {t.rel} @ {start:g} s: too quiet ({rms_db:.1f} dBFS)")
                    continue
                peak = float(np.max(np.abs(x)))
                gain = 1.0 if peak <= 0.99 else 0.99 / peak
                name = f"{len(clips):03d}_{re.sub(r'[^A-Za-z0-9]+', '_', pkg + '_' + t.title).strip('_')[:60]}.{args.format}"
                path = out / name
                if args.format == "flac":
                    sf.write(str(path), x * gain, t.rate, format="FLAC", subtype="PCM_24")
                else:
                    sf.write(str(path), x * gain, t.rate, format="WAV", subtype="FLOAT")
                clips.append({
                    "file": name,
                    "package": t.package,
                    "version": t.version,
                    "track": t.rel,
                    "stems": [str(Path(t.rel).parent / s.name) for s in t.stems],
                    "title": t.title,
                    "artist": t.artist,
                    "licence": t.licence,
                    "copyright_file": t.copyright_file,
                    "start": start,
                    "duration": args.seconds,
                    "sample_rate": t.rate,
                    "gain_db": round(20 * math.log10(gain), 3),
                    "rms_db": round(rms_db, 2),
                })
                log(f"  {name}  ({t.rate} Hz, {rms_db:.1f} dBFS)")
    (out / "clips.json").write_text(json.dumps(clips, indent=2) + "\n")
    log(f"{len(clips)} clips in {out} from {len({c['package'] for c in clips})} packages; manifest {out / 'clips.json'}")
    if len(clips) < args.n_clips:
        log(f"warning: asked for {args.n_clips} clips, only {len(clips)} could be cut")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
