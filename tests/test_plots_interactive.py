"""The pictures people read: the mel responsibility grid, the plotly figures (through
``gr.Plot``) and the responsibility per note, pitch class and register.

Real explanations: the precomputed msd-musicnn example (metal) and a planted 440 Hz tone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import freqrex_app as fx
from freqrex_app.audio import load_audio
from freqrex_app.plots import hz_to_note
from freqrex_app.audio.scales import hz_to_mel, mel_to_hz, midi_to_note as note_name
from freqrex_app.plots.grid import grid_from_arrays, mel_grid
from freqrex_app.plots.interactive import frequency_figure, notes_figure, spectrogram_figure
from freqrex_app.plots.notes import (REGISTERS, midi_of_hz, note_summary,
                                     notes_markdown, summarise_notes)

from planted import Planted, tone_clip

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def metal():
    """The precomputed example (msd-musicnn, 10 s, budget 1000) rebuilt without the model."""
    folder = ROOT / "assets" / "precomputed" / "metal"
    meta = json.loads((folder / "explanation.json").read_text())
    audio = load_audio(ROOT / "assets" / "examples" / "metal.ogg", sample_rate=meta["sample_rate"],
                       start=meta["start"], duration=meta["duration"])
    return fx.load_explanation(folder, audio)


@pytest.fixture(scope="module")
def tone_exp():
    """A planted classifier that says 'yes' while the 440 Hz tone is there."""
    x = tone_clip(1.0, tones=((440, 0.2), (1000, 0.3), (3000, 0.2)))
    return fx.explain(fx.Audio(x, 16000), Planted("one", (440.0,)), budget=200, seed=0, stft=True)


# -- the mel grid -----------------------------------------------------------------------------
def test_mel_scale_round_trips_and_matches_librosa():
    import librosa

    hz = np.array([0.0, 55.0, 440.0, 999.0, 1000.0, 4186.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-6)
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-9)


def test_mel_grid_keeps_the_total_and_every_removed_cell(metal):
    grid = mel_grid(metal)
    resp = np.asarray(metal.stft_margin_drop, dtype=np.float64)
    assert grid.sums.shape[0] <= 96 and grid.sums.shape[1] <= 240
    np.testing.assert_allclose(grid.total, resp.sum(), rtol=1e-9)
    assert grid.cells.sum() == resp.size
    assert grid.removed.sum() == metal.stft_flip.k == len(set(metal.stft_flip.index.tolist()))
    assert np.all(np.diff(grid.hz_edges) > 0) and np.all(np.diff(grid.t_edges) > 0)
    assert grid.hz_edges[0] == 0 and grid.hz_edges[-1] == pytest.approx(metal.sample_rate / 2)
    assert grid.t_edges[0] < metal.audio.start + 0.05
    assert grid.t_edges[-1] == pytest.approx(metal.audio.start + metal.audio.duration, abs=0.05)
    # smoothing is for drawing only: it keeps the range, not the values
    assert grid.smooth.max() <= grid.mean.max() + 1e-9 and grid.smooth.min() >= 0


@pytest.mark.parametrize("n_fft", [256, 1024])
def test_a_planted_cell_lands_in_its_tile_and_the_total_is_kept(n_fft):
    sr, hop, frames = 16000, n_fft // 4, 700
    rng = np.random.default_rng(1)
    resp = rng.random((n_fft // 2 + 1, frames)) * 0.01
    f_bin, frame = int(round(440 * n_fft / sr)), 333
    resp[f_bin, frame] = 100.0
    cell = f_bin * frames + frame
    grid = grid_from_arrays(resp, sr, n_fft, hop, removed_cells=np.array([cell]), start=2.0)
    np.testing.assert_allclose(grid.total, resp.sum(), rtol=1e-12)
    assert grid.cells.sum() == resp.size  # empty bands (n_fft=256) merged, none lost
    row, col = np.unravel_index(np.argmax(grid.sums), grid.sums.shape)
    hz, t = f_bin * sr / n_fft, 2.0 + frame * hop / sr
    assert grid.hz_edges[row] <= hz < grid.hz_edges[row + 1]
    assert grid.t_edges[col] <= t < grid.t_edges[col + 1]
    assert grid.removed[row, col] == 1 and grid.removed.sum() == 1


# -- notes ------------------------------------------------------------------------------------
def test_note_names_and_midi():
    assert midi_of_hz(440.0) == 69 and midi_of_hz(261.63) == 60 and midi_of_hz(0.0) == -1
    assert [note_name(m) for m in (21, 60, 69, 108)] == ["A0", "C4", "A4", "C8"]
    assert midi_of_hz(452.0) == 69 and midi_of_hz(453.5) == 70  # A4/A#4 boundary at 452.9 Hz


@pytest.mark.parametrize("hz, note, register, outside", [
    (440.0, "A4", "low-mid", 0.0), (65.4, "C2", "bass", 0.0), (3000.0, "F#7", "high-mid", 0.0),
    (20.0, None, "sub-bass", 1.0), (5000.0, None, "presence", 1.0)])
def test_a_planted_bin_is_counted_in_its_note_register_and_range(hz, note, register, outside):
    sr, n = 16000, 16000  # 1 Hz bins
    r = np.full(n // 2 + 1, 0.0)
    r[int(round(hz))] = 5.0
    s = note_summary(r, sr, n)
    assert s.total == 5.0 and s.outside_share == pytest.approx(outside)
    assert {x.name: x.share for x in s.registers}[register] == pytest.approx(1.0)
    assert sum(x.share for x in s.registers) == pytest.approx(1.0)
    assert sum(x.share for x in s.notes) == pytest.approx(1.0)  # the DC bin holds nothing
    if note is not None:
        top = s.top_notes(1)[0]
        assert top.name == note and top.share == pytest.approx(1.0)
        assert top.mean == pytest.approx(5.0 / top.n_bins) and top.peak == 5.0
        assert {p.name: p.share for p in s.pitch_classes}[top.pitch_class] == pytest.approx(1.0)
    else:
        assert s.top_notes(1) == [] or s.top_notes(1)[0].share == 0


def test_flat_responsibility_favours_no_note_by_mean():
    """On a flat map every note's mean is the same (relative 1): width alone ranks nothing."""
    s = note_summary(np.ones(8001), 16000, 16000)
    keys = [n for n in s.notes if n.in_range and n.n_bins]
    assert all(n.relative == pytest.approx(1.0) for n in keys)
    assert s.note("C8").share > s.note("C4").share  # shares do grow with width
    assert s.above_share > 0.4 and s.below_share == pytest.approx(27 / 8001)
    assert max(p.share for p in s.pitch_classes) - min(p.share for p in s.pitch_classes) < 1e-9


def test_the_planted_tone_is_the_top_note(tone_exp):
    s = summarise_notes(tone_exp)
    assert s.top_notes(1)[0].name == "A4"
    md = notes_markdown(s)
    first_row = next(line for line in md.splitlines() if line.startswith("| A"))
    assert first_row.startswith("| A4 | 440.0 |")
    assert "Outside the musical range" in md and all(r.name in md for r in REGISTERS)
    json.dumps(s.to_dict(), allow_nan=False)


# -- plotly figures ---------------------------------------------------------------------------
def _through_gr_plot(fig) -> dict:
    """What gr.Plot sends to the page, decoded."""
    import gradio as gr

    data = gr.Plot().postprocess(fig)
    assert data.type == "plotly"
    return json.loads(data.plot)


def test_spectrogram_figure_hover_names_the_notes_and_serialises(metal):
    grid = mel_grid(metal)
    fig = spectrogram_figure(metal, grid)
    heat = next(t for t in fig.data if t.name == "responsibility")
    hz = heat.customdata[:, 0, 0]
    np.testing.assert_allclose(hz, grid.hz_centres, rtol=1e-5)
    for j in (5, 30, 60, 90):
        assert heat.text[j][0] == hz_to_note(float(grid.hz_centres[j]), cents=True)
    a4 = int(np.argmin(np.abs(grid.hz_centres - 440.0)))
    assert heat.text[a4][7].split()[0] in ("G#4", "A4", "A#4")
    np.testing.assert_allclose(heat.customdata[..., 1], grid.mean, rtol=1e-5)
    assert "Hz" in heat.hovertemplate and "s ·" in heat.hovertemplate
    assert any(t.type == "contour" for t in fig.data)  # the STFT flip's outline
    sent = _through_gr_plot(fig)
    assert len(sent["data"]) == len(fig.data)
    assert len(fig.to_json()) < 1_500_000  # typed arrays: ~0.9 MB for 10 s


def test_spectrogram_figure_marks_few_removed_cells(tone_exp):
    fig = spectrogram_figure(tone_exp)
    assert fig is not None
    # the flip here removes thousands of cells: outlined, not marked one by one
    assert any(t.type == "contour" for t in fig.data)
    assert not any(t.name == "removed cell" for t in fig.data) or tone_exp.stft_flip.k <= 300
    assert spectrogram_figure(fx.explain(fx.Audio(tone_clip(1.0), 16000), Planted("one"),
                                         budget=60, seed=0, stft=False)) is None


def test_frequency_figure_names_the_top_bins(tone_exp):
    fig = frequency_figure(tone_exp)
    top = next(t for t in fig.data if t.name.startswith("top"))
    bins = [int(b) for b in tone_exp.ranking[: len(top.x)]]
    assert list(top.hovertext) == [hz_to_note(float(h), cents=True) for h in tone_exp.hz(bins)]
    assert top.hovertext[0] == "A4 +0c"
    assert fig.layout.xaxis.type == "log" and any("A4" in t for t in fig.layout.xaxis.ticktext)
    line = fig.data[0]
    assert len(line.x) == len(line.text) and all(isinstance(t, str) for t in line.text)
    _through_gr_plot(fig)


def test_notes_figure(metal):
    s = summarise_notes(metal)
    fig = notes_figure(s, title="metal")
    notes_bar = fig.data[0]
    assert notes_bar.x[0] == "below A0" and notes_bar.x[-1] == "above C8"
    assert list(notes_bar.x[1:-1]) == [note_name(m) for m in range(21, 109)]
    assert [p for p in fig.data[1].x] == [p.name for p in s.pitch_classes]
    assert "outside the musical range" in fig.layout.title.text
    _through_gr_plot(notes_figure(metal))


# -- in the page ------------------------------------------------------------------------------
@pytest.mark.browser
def test_gr_plot_draws_the_figures_in_chromium(metal, browser, tmp_path):
    """Gradio 6's plotly.js decodes the typed arrays: the page holds the same cells and notes."""
    import gradio as gr
    from selenium.webdriver.support.ui import WebDriverWait

    grid = mel_grid(metal)
    with gr.Blocks() as demo:
        gr.Plot(spectrogram_figure(metal, grid), elem_id="spec")
        gr.Plot(notes_figure(metal), elem_id="notes")
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    browser.set_window_size(1300, 1400)
    try:
        browser.get(url)
        script = "const g = document.querySelector('#%s .js-plotly-plot'); return g && g._fullData ? g._fullData.length : 0;"
        WebDriverWait(browser, 60).until(lambda d: d.execute_script(script % "spec") >= 3
                                         and d.execute_script(script % "notes") >= 3)
        a4 = int(np.argmin(np.abs(grid.hz_centres - 440.0)))
        got = browser.execute_script(
            "const g = document.querySelector('#spec .js-plotly-plot');"
            "const h = g._fullData.find(t => t.name === 'responsibility');"
            "return [h.z.length, h.z[0].length, h.text[arguments[0]][0], h.customdata[arguments[0]][3][1],"
            " g.querySelectorAll('.heatmaplayer image, .hm image').length,"
            " g.querySelectorAll('.contourlayer path').length];", a4)
        assert got[:2] == list(grid.sums.shape)
        assert got[2] == hz_to_note(float(grid.hz_centres[a4]), cents=True)
        assert got[3] == pytest.approx(grid.mean[a4, 3], rel=1e-5)
        assert got[4] >= 2 and got[5] >= 1  # two heatmaps drawn, the flip outlined
        browser.save_screenshot(str(tmp_path / "plots.png"))
    finally:
        browser.set_window_size(1440, 1000)
        demo.close()
