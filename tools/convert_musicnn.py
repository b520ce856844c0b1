#!/usr/bin/env python
"""Convert musicnn 0.1.0's four TensorFlow 1 taggers to PyTorch safetensors, and check parity.

TensorFlow is a dependency of this tool only (never of the app or its tests). Run it in a
separate environment that has tensorflow (2.15 still ships ``tf.compat.v1.layers``), torch,
safetensors, librosa and soundfile, and the musicnn 0.1.0 wheel::

    python3 -m venv /work/tfenv
    /work/tfenv/bin/pip install tensorflow-cpu==2.15.1 "numpy<2" librosa soundfile safetensors torch==2.13.0
    pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn_whl
    apt-get download wesnoth-1.16-music asc-music && dpkg -x ... /tmp/debmusic   # real music
    /work/tfenv/bin/python tools/convert_musicnn.py \
        --wheel /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl --music-root /tmp/debmusic

(or install the wheel with ``pip install --no-deps`` and leave out ``--wheel``).

For each model it builds the ORIGINAL graph (``musicnn.models.define_model``), restores the
checkpoint shipped in the wheel, maps every variable to the torch port
(``freqrex_app.models.musicnn``), writes ``pretrained/<id>.safetensors`` and
``pretrained/<id>.json`` (labels, reported ROC-AUC and PR-AUC from ``experiment.result``), then
feeds the same float32 log-mel patches of real music to both and reports the max absolute
difference of tag scores (it fails above ``--tolerance``, 1e-4). It also stores
``tests/data/musicnn_reference.npz``: the log-mel patches of a few excerpts (one of them loud)
and the TensorFlow scores of every model, so the test suite checks parity without TensorFlow.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = {  # our id: (musicnn name, architecture, dataset)
    "msd-musicnn": ("MSD_musicnn", "musicnn", "msd"),
    "mtt-musicnn": ("MTT_musicnn", "musicnn", "mtt"),
    "msd-vgg": ("MSD_vgg", "vgg", "msd"),
    "mtt-vgg": ("MTT_vgg", "vgg", "mtt"),
}

# Real, freely licensed music from Debian packages (paths under --music-root).
WESNOTH = "usr/share/games/wesnoth/1.16/data/core/music/"
ASC = "usr/share/games/asc/music/"
# (name, path, start s, duration s, peak normalisation or None). The first REFERENCE_COUNT
# are stored in the reference file (10 s each: 3 patches); all are used for the parity check.
EXCERPTS = [
    ("asc_machine_wars_loud", ASC + "machine_wars.mp3", 30.0, 10.0, 1.0),
    ("wesnoth_battle_epic", WESNOTH + "battle-epic.ogg", 20.0, 10.0, None),
    ("wesnoth_traveling_minstrels", WESNOTH + "traveling_minstrels.ogg", 10.0, 10.0, None),
    ("asc_frontiers", ASC + "frontiers.mp3", 40.0, 10.0, None),
    ("asc_time_to_strike", ASC + "time_to_strike.mp3", 0.0, 30.0, None),
    ("wesnoth_elf_land", WESNOTH + "elf-land.ogg", 0.0, 30.0, None),
    ("wesnoth_knalgan_theme", WESNOTH + "knalgan_theme.ogg", 15.0, 30.0, None),
    ("wesnoth_silvan_sanctuary", WESNOTH + "silvan_sanctuary.ogg", 30.0, 30.0, None),
    ("asc_machine_wars", ASC + "machine_wars.mp3", 60.0, 30.0, None),
]
REFERENCE_COUNT = 4

SR, N_FFT, HOP, N_MELS, PATCH = 16000, 512, 256, 96, 187


# --------------------------------------------------------------------------- weights mapping
def _bn(prefix: str, tf_name: str) -> dict[str, tuple[str, str]]:
    return {
        f"{tf_name}/gamma": (f"{prefix}.weight", "vec"),
        f"{tf_name}/beta": (f"{prefix}.bias", "vec"),
        f"{tf_name}/moving_mean": (f"{prefix}.running_mean", "vec"),
        f"{tf_name}/moving_variance": (f"{prefix}.running_var", "vec"),
    }


def _layer(prefix: str, tf_name: str, kind: str) -> dict[str, tuple[str, str]]:
    return {f"{tf_name}/kernel": (f"{prefix}.weight", kind), f"{tf_name}/bias": (f"{prefix}.bias", "vec")}


def variable_map(arch: str) -> dict[str, tuple[str, str]]:
    """TensorFlow variable name -> (torch state-dict key, how to transform the array)."""
    m: dict[str, tuple[str, str]] = {}
    if arch == "musicnn":
        # Creation order in musicnn's models.py: input BN; per front-end block conv then BN
        # (timbral 74, 77, temporal 128, 64, 32); mid-end conv/BN x3; back-end BN, dense, BN, dense.
        m.update(_bn("input_bn", "batch_normalization"))
        blocks = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2"]
        for i, blk in enumerate(blocks):
            m.update(_layer(f"{blk}.conv", "conv2d" if i == 0 else f"conv2d_{i}", "conv2d"))
            m.update(_bn(f"{blk}.bn", f"batch_normalization_{i + 1}"))
        for j in range(3):
            m.update(_layer(f"mid_convs.{j}", f"conv2d_{5 + j}", "conv1d"))
            m.update(_bn(f"mid_bns.{j}", f"batch_normalization_{6 + j}"))
        m.update(_bn("pool_bn", "batch_normalization_9"))
        m.update(_layer("dense", "dense", "dense"))
        m.update(_bn("dense_bn", "batch_normalization_10"))
        m.update(_layer("out", "dense_1", "dense"))
    elif arch == "vgg":
        m.update(_bn("input_bn", "batch_normalization"))
        for i in range(5):
            m.update(_layer(f"convs.{i}", f"{i + 1}CNN", "conv2d"))
            m.update(_bn(f"bns.{i}", f"batch_normalization_{i + 1}"))
        m.update(_layer("out", "dense", "dense"))
    else:
        raise ValueError(arch)
    return m


def transform(value: np.ndarray, kind: str) -> np.ndarray:
    if kind == "conv2d":  # TF [kh, kw, in, out] -> torch [out, in, kh, kw]
        value = value.transpose(3, 2, 0, 1)
    elif kind == "conv1d":  # TF [k, features, 1, out] (conv over the whole feature axis) -> [out, features, k]
        value = value[:, :, 0, :].transpose(2, 1, 0)
    elif kind == "dense":  # TF [in, out] -> torch [out, in]
        value = value.T
    return np.ascontiguousarray(value, dtype=np.float32)


# --------------------------------------------------------------------------- TensorFlow side
class TFTagger:
    """musicnn's original graph, restored from the wheel's checkpoint (inference mode)."""

    def __init__(self, musicnn_name: str, ckpt_dir: Path, n_tags: int = 50):
        import tensorflow as tf
        from musicnn import models

        tf.compat.v1.disable_eager_execution()
        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):  # as musicnn's extractor builds it
                self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH, N_MELS])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                outputs = models.define_model(self.x, self.is_training, musicnn_name, n_tags)
                self.y = tf.nn.sigmoid(outputs[0])
            config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
            self.sess = tf.compat.v1.Session(graph=self.graph, config=config)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(self.sess, str(ckpt_dir) + "/")
            self.variables = {v.op.name: self.sess.run(v) for v in tf.compat.v1.global_variables()}

    def scores(self, patches: np.ndarray, batch: int = 16) -> np.ndarray:
        out = [
            self.sess.run(self.y, feed_dict={self.x: patches[i : i + batch], self.is_training: False})
            for i in range(0, len(patches), batch)
        ]
        return np.concatenate(out).astype(np.float32)


def read_result(path: Path) -> dict[str, float]:
    """ROC-AUC and PR-AUC from ``experiment.result`` (the first and second number after 'AUC:')."""
    values = [float(v) for v in re.findall(r"AUC:\s*([0-9.]+)", path.read_text())]
    return {"roc_auc": values[0], "pr_auc": values[1]}


# --------------------------------------------------------------------------- audio side
def load_excerpt(path: Path, start: float, duration: float, peak: float | None) -> np.ndarray:
    import librosa
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # some builds of libsndfile lack mp3: fall back to librosa/audioread
        data, sr = librosa.load(str(path), sr=None, mono=False)
        data = np.atleast_2d(data).T
    mono = data.mean(axis=1)
    seg = mono[int(start * sr) : int((start + duration) * sr)]
    y = librosa.resample(seg, orig_sr=sr, target_sr=SR).astype(np.float32)
    y = y[: int(duration * SR)]
    if peak is not None:
        y = (y * (peak / np.abs(y).max())).astype(np.float32)
    return y


def musicnn_logmel(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """musicnn's extractor (librosa mel, same parameters) with the log in float32, and the
    mel power, ``[T, 96]`` each."""
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    mel = mel.astype(np.float32)
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32), mel


def patches_of(logmel: np.ndarray) -> np.ndarray:
    n = (len(logmel) - PATCH) // PATCH + 1  # musicnn: range(0, T - 187 + 1, 187)
    return logmel[: n * PATCH].reshape(n, PATCH, N_MELS)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, default=None,
                    help="musicnn-0.1.0-py3-none-any.whl (from `pip download musicnn==0.1.0 --no-deps`); "
                         "unpacked to a temporary folder and used instead of an installed musicnn")
    ap.add_argument("--musicnn-dir", type=Path, default=None,
                    help="the musicnn package folder (default: the installed musicnn)")
    ap.add_argument("--music-root", type=Path, default=Path("/tmp/debmusic"),
                    help="root where the Debian music packages were extracted (dpkg -x)")
    ap.add_argument("--out", type=Path, default=ROOT / "pretrained")
    ap.add_argument("--reference", type=Path, default=ROOT / "tests" / "data" / "musicnn_reference.npz")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--check", nargs="*", type=Path, default=[],
                    help="more audio files (first 30 s of each) to check parity on, besides the built-in excerpts")
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.wheel is not None:
        import tempfile
        import zipfile

        unpacked = Path(tempfile.mkdtemp(prefix="musicnn_wheel_"))
        with zipfile.ZipFile(args.wheel) as zf:
            zf.extractall(unpacked)
        args.musicnn_dir = unpacked / "musicnn"
    if args.musicnn_dir is not None:
        sys.path.insert(0, str(args.musicnn_dir.resolve().parent))
    import musicnn
    from musicnn import configuration
    import torch
    from safetensors.numpy import save_file

    from freqrex_app.models.melspec import LogMel
    from freqrex_app.models.musicnn import build_network

    torch.set_num_threads(2)
    pkg = Path(musicnn.__file__).resolve().parent
    wheel_root = pkg.parent
    args.out.mkdir(parents=True, exist_ok=True)

    # licence notice beside the weights
    licences = sorted(wheel_root.glob("musicnn-*.dist-info/LICENSE*"))
    if licences:
        shutil.copyfile(licences[0], args.out / "LICENSE.musicnn")
    else:
        print("warning: musicnn's licence file not found beside the package", file=sys.stderr)

    # real music -> float32 log-mel patches (the same input for both frameworks)
    excerpts = []
    extra = [(p.stem, p, 0.0, 30.0, None) for p in args.check]
    for name, rel, start, dur, peak in [(n, args.music_root / r, s, d, p) for n, r, s, d, p in EXCERPTS] + extra:
        y = load_excerpt(Path(rel), start, dur, peak)
        logmel, mel = musicnn_logmel(y)
        with np.errstate(over="ignore"):
            overflow = int(np.isinf(np.float16(10000) * mel.astype(np.float16)).sum())
        excerpts.append({"name": name, "wave": y, "patches": patches_of(logmel), "f16_overflow": overflow})
        print(f"{name}: {len(y) / SR:.1f} s, {len(excerpts[-1]['patches'])} patches, "
              f"peak {np.abs(y).max():.3f}, mel max {mel.max():.1f}, "
              f"mel bins that overflow float16 after x10000: {overflow}")

    frontend = LogMel()
    reference: dict[str, np.ndarray] = {}
    ref = excerpts[:REFERENCE_COUNT]
    reference["names"] = np.array([e["name"] for e in ref])
    reference["patches"] = np.stack([e["patches"] for e in ref]).astype(np.float32)  # [E, P, 187, 96]
    summary = {}
    failed = False
    for model_id in args.models:
        musicnn_name, arch, dataset = MODELS[model_id]
        labels = list(configuration.MSD_LABELS if dataset == "msd" else configuration.MTT_LABELS)
        tf_model = TFTagger(musicnn_name, pkg / musicnn_name, len(labels))

        mapping = variable_map(arch)
        trainable = {k: v for k, v in tf_model.variables.items()
                     if "Adam" not in k and k not in ("beta1_power", "beta2_power")}
        unmapped = sorted(set(trainable) - set(mapping))
        missing = sorted(set(mapping) - set(trainable))
        if unmapped or missing:
            raise SystemExit(f"{model_id}: unmapped TF variables {unmapped}, missing {missing}")
        state = {key: transform(trainable[tf_name], kind) for tf_name, (key, kind) in mapping.items()}

        net = build_network(arch, len(labels))
        result = net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        bad = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if bad or result.unexpected_keys:
            raise SystemExit(f"{model_id}: state mismatch: missing {bad}, unexpected {result.unexpected_keys}")

        info = read_result(pkg / musicnn_name / "experiment.result")
        weights = args.out / f"{model_id}.safetensors"
        save_file(state, str(weights), metadata={"model": model_id, "arch": arch, "source": f"musicnn 0.1.0 {musicnn_name}"})
        weights.chmod(0o644)
        meta = {
            "id": model_id,
            "arch": arch,
            "dataset": {"msd": "Million Song Dataset", "mtt": "MagnaTagATune"}[dataset],
            "source": f"musicnn 0.1.0 (PyPI), checkpoint {musicnn_name}/",
            "experiment": re.findall(r"\['([^']+)'\]", (pkg / musicnn_name / "experiment.result").read_text())[:1],
            "sample_rate": SR,
            "labels": labels,
            **info,
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        }
        (args.out / f"{model_id}.json").write_text(json.dumps(meta, indent=1) + "\n")

        # parity on real music: same float32 log-mel patches into both graphs
        worst_patch = worst_clip = worst_e2e = 0.0
        for e in excerpts:
            tf_scores = tf_model.scores(e["patches"])
            with torch.inference_mode():
                pt_scores = torch.sigmoid(net(torch.from_numpy(e["patches"]))).numpy()
                # end to end: torch front-end from the wave, averaged over patches
                lm = frontend(torch.from_numpy(e["wave"][None]))[0].numpy()
                pt_e2e = torch.sigmoid(net(torch.from_numpy(patches_of(lm)))).numpy().mean(0)
            worst_patch = max(worst_patch, float(np.abs(tf_scores - pt_scores).max()))
            worst_clip = max(worst_clip, float(np.abs(tf_scores.mean(0) - pt_scores.mean(0)).max()))
            worst_e2e = max(worst_e2e, float(np.abs(tf_scores.mean(0) - pt_e2e).max()))
            top = [labels[i] for i in np.argsort(-tf_scores.mean(0))[:3]]
            print(f"  {model_id} {e['name']}: TF top-3 {top}, max |diff| patch "
                  f"{np.abs(tf_scores - pt_scores).max():.2e}")
        ok = worst_patch <= args.tolerance and worst_clip <= args.tolerance
        failed |= not ok
        summary[model_id] = {"roc_auc": info["roc_auc"], "patch": worst_patch, "clip": worst_clip, "e2e": worst_e2e}
        print(f"{model_id}: ROC-AUC {info['roc_auc']:.4f}; parity on {len(excerpts)} real excerpts: "
              f"max |diff| per patch {worst_patch:.2e}, per clip {worst_clip:.2e} "
              f"(torch front-end end to end: {worst_e2e:.2e}) {'OK' if ok else 'FAIL'}")
        reference[f"scores_{model_id}"] = np.stack([tf_model.scores(e["patches"]) for e in ref])  # [E, P, L]
        tf_model.sess.close()

    args.reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.reference, **reference)
    print(f"wrote {args.reference} ({args.reference.stat().st_size / 1e6:.2f} MB)")
    print("\n| model | reported ROC-AUC | max |diff| per patch | per clip | end to end (torch front-end) |")
    print("|---|---|---|---|---|")
    for model_id, s in summary.items():
        print(f"| {model_id} | {s['roc_auc']:.4f} | {s['patch']:.1e} | {s['clip']:.1e} | {s['e2e']:.1e} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
