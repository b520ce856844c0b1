"""The page's components and their arrangement (no callbacks): ``Layout(settings)`` inside a
``gr.Blocks`` context builds them and keeps each as an attribute."""
from __future__ import annotations

from typing import Any, Mapping

import gradio as gr
from gradio.blocks import Block

from .model_cache import hf_available
from .perturbations import PERTURBATION_NAMES
from .render import (PERTURBATION_KEYS, RESULT_KEYS, button, credits_md, estimate_md,
                     foil_choices, model_md)
from .settings import AppSettings

__all__ = ["Layout", "CSS", "THEME"]

CSS = """
.fx-header {padding: 18px 22px; border-radius: 14px; color: white;
  background: linear-gradient(120deg, #3c096c 0%, #7b2cbf 45%, #f28c28 100%);}
.fx-header h1 {margin: 0; font-size: 1.9em; color: white;}
.fx-header p {margin: 6px 0 0 0; opacity: 0.92; font-size: 1.02em; color: white;}
.fx-header b {color: #ffe8a3;}
.fx-headline {padding: 10px 4px 2px 4px;}
.fx-verdict {font-size: 1.55em; line-height: 1.25;}
.fx-model {font-family: monospace; background: #efe6fb; color: #3c096c; padding: 1px 7px;
  border-radius: 6px; font-size: 0.8em;}
.fx-label {font-weight: 800; color: #7b2cbf;}
.fx-conf {font-weight: 600; color: var(--body-text-color-subdued);}
.fx-sub {color: var(--body-text-color-subdued); margin-top: 4px;}
.fx-provisional {background: #f28c28; color: white; font-weight: 700; padding: 1px 8px;
  border-radius: 6px; text-transform: uppercase; font-size: 0.8em; letter-spacing: 0.04em;}
.fx-placeholder {padding: 40px 20px; text-align: center; color: var(--body-text-color-subdued);
  font-size: 1.1em;
  border: 2px dashed #d9c7f0; border-radius: 14px;}
.fx-pert-buttons {flex-wrap: wrap !important; gap: 6px !important;}
.fx-pert-buttons button {flex: 0 0 auto !important; width: auto !important;
  min-width: 0 !important; white-space: nowrap !important; padding: 4px 10px !important;}
.fx-torn {margin-top: 6px; padding: 4px 10px; border-left: 4px solid #f28c28;
  background: #fff4e6; color: #6b3a00; border-radius: 4px;}
#results [data-testid="block-label"] {white-space: normal !important; height: auto !important;
  max-width: calc(100% - 44px) !important; overflow: visible !important;}
#results [data-testid="block-label"] * {white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important;}
#pert-table table, #compare-table table {table-layout: auto !important;}
#glossary dt {font-weight: 700; margin-top: 6px;}
#glossary dd {margin: 0 0 0 14px;}
.fx-steps {text-align: left; display: inline-block; margin: 14px auto 0 auto; font-size: 0.95em;}
.fx-legend span {display: inline-block; padding: 1px 8px; border-radius: 5px; margin-right: 6px;
  font-size: 0.9em;}
footer {display: none !important;}
"""

THEME = gr.themes.Soft(primary_hue="violet", secondary_hue="orange", neutral_hue="slate")

INTRO = """
<div class="fx-header">
<h1>FreqReX · which frequencies made the model say that?</h1>
<p>Drop in a music clip. FreqReX finds the frequencies that <b>cause</b> an audio classifier's
label (actual causality, not gradients), then lets you <b>hear</b> the smallest changes that
keep or flip it.</p>
</div>
"""

HOW = """
**How to read it.** Each of the clip's frequency bins gets a degree of *responsibility* for
the label: how few other bins must go before removing it changes the label. **S** is the
smallest set of top bins that alone keeps the label; **SN** also changes the label when
removed; **complete** adds **A** to restore the original confidence. **Flip-k** removes the
top *k* bins. The **quiet flip** (frequency bins) and the **STFT flip** (time-frequency
cells) are the least audible changes found that flip the label: the most faint content the
model depends on, removed or attenuated. SNR: how far below the music the change is (dB).
<span class="fx-legend"><span style="background:#f28c28;color:white">S</span>
<span style="background:#f6c700">SN</span><span style="background:#d62828;color:white">A</span></span>
"""


#: Every technical word the page uses, in a few words each (the collapsible key).
GLOSSARY = """<dl>
<dt>model call</dt><dd>the classifier scoring one waveform (a changed copy of the excerpt). The
budget is how many calls one explanation may make; the time it takes is mostly these calls.</dd>
<dt>bin (frequency bin)</dt><dd>one frequency of the excerpt's Fourier transform. A 10 s excerpt
has bins 0.1 Hz apart (1 / its length); removing a bin silences that frequency for the whole
excerpt.</dd>
<dt>STFT cell</dt><dd>one frequency at one moment: a tile of the short-time Fourier transform
(the spectrogram). Changing cells changes a frequency only where and when it matters.</dd>
<dt>responsibility</dt><dd>how much a bin or cell causes the label: 1 when removing it alone
changes the label, 1/(k+1) when k others must go first. Summed over bins or cells; very small
numbers are written with µ (a millionth: 20µ = 0.000020).</dd>
<dt>S (sufficient set)</dt><dd>the smallest set of the most responsible bins that alone, with
everything else removed, still makes the model hear the label.</dd>
<dt>SN (sufficient and necessary)</dt><dd>a sufficient set whose removal also changes the
label.</dd>
<dt>A (adjustment), complete</dt><dd>bins added to SN until the model is as confident as on the
whole excerpt; complete = SN + A.</dd>
<dt>flip, Flip-k</dt><dd>a change that makes the model hear another label (or the foil); Flip-k
removes the k most responsible bins.</dd>
<dt>quiet flip, STFT flip</dt><dd>the least audible change found that flips the label, of bins
(quiet flip) or of STFT cells (STFT flip). <i>Removed</i> cells are silenced;
<i>attenuated (× 0.8)</i> cells are turned down to 0.8 of their level. Found with the model's
<i>gradient</i> where the model allows it (the built-in taggers do), else by <i>black-box</i>
search; the page says which.</dd>
<dt>SNR (dB)</dt><dd>signal-to-noise ratio: how far below the music a change is, in decibels.
20 dB: the change has 1/100 of the music's energy; 40 dB: 1/10,000. Higher is quieter, but
energy is not what you hear: the hearing model decides.</dd>
<dt>hearing model, MOS, Zimtohrli</dt><dd>Google's psychoacoustic metric Zimtohrli compares
the changed sound with the original as a listener would and gives a mean opinion score (MOS)
from 1 to 5; 5 is no audible difference. From 4.95 the page says you will not hear the change,
from 4.5 that it is hard to hear.</dd>
<dt>dB</dt><dd>decibels: a ratio of energies on a log scale (+10 dB = 10 × the energy).</dd>
<dt>mel scale</dt><dd>a frequency axis spaced as the ear (and most audio models) hears pitch:
low frequencies get more room.</dd>
<dt>A4 · 440 Hz, A-to-A octave</dt><dd>note names: A4 is the A above middle C (440 Hz); each
octave up doubles the frequency.</dd>
<dt>labels view</dt><dd>which of the model's labels count: <i>all</i> of them, or only the
<i>genres</i>.</dd>
<dt>foil</dt><dd>a second label for "why this label and not the foil?": a flip then counts only
when the foil becomes the label.</dd>
<dt>so far</dt><dd>marks a picture of an explanation still running: it is refined as the search
goes on.</dd>
<dt>torn</dt><dd>the model's top two scores are almost level: a small change can tip it.</dd>
</dl>"""


class Layout:
    """Every component of the page, built in order; call inside ``with gr.Blocks():``."""

    def __init__(self, settings: AppSettings):
        s = settings
        limits, presets, examples = s.limits, s.presets, s.examples
        model_ids, default_model = s.model_ids, s.default_model
        default_views, default_view = s.default_views, s.default_view
        self.job_state = gr.State(None, time_to_live=int(limits.job_ttl_s))  # the job's folder
        gr.HTML(INTRO)
        if s.hub_problems:  # allow-listed Hub models that did not load, one line each
            gr.Markdown("\n".join(f"- ⚠ {p}" for p in s.hub_problems), elem_id="hub-problems")
        with gr.Row(equal_height=False):
            # ---------------------------------------------------------------- inputs
            with gr.Column(scale=4, min_width=360):
                self.audio_in = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", elem_id="audio-input",
                    label="Music clip: drop or browse a WAV, FLAC, OGG or MP3, or record",
                    buttons=["download"])
                if examples:
                    gr.Markdown("**Try an example** (real music, explained in advance: instant)",
                                elem_classes="fx-tight")
                    self.ex_btns = []
                    with gr.Row():
                        for ex in examples:
                            self.ex_btns.append(gr.Button(ex.button, size="sm", min_width=120,
                                                          elem_id=f"example-{ex.stem}"))
                self.preview = gr.Image(type="filepath", format="png", show_label=False,
                                        visible=False, elem_id="excerpt-preview", container=False,
                                        interactive=False, buttons=[])
                with gr.Row():
                    self.start = gr.Slider(0, limits.max_source_s, value=0.0, step=0.1,
                                           label="start (s)", elem_id="start")
                    self.duration = gr.Slider(0.5, limits.max_excerpt_s,
                                              value=limits.default_excerpt_s, step=0.1,
                                              label="duration (s)", elem_id="duration",
                                              info=f"at most {limits.max_excerpt_s:g} s")
                with gr.Row():
                    self.model_dd = gr.Dropdown(model_ids, value=default_model, label="model",
                                                elem_id="model", scale=3)
                    self.view = gr.Radio(default_views, value=default_view, label="labels view",
                                         elem_id="labels-view", scale=2)
                with gr.Row():
                    self.foil = gr.Dropdown(foil_choices(default_model, default_view), value="",
                                            label="why this label and not… (a foil)",
                                            elem_id="foil", scale=3,
                                            info="optional: flips count only when the foil "
                                                 "becomes the label")
                    self.compare_dd = gr.Dropdown([("(none)", "")] + list(model_ids), value="",
                                                  label="compare with a second model",
                                                  elem_id="compare-model", scale=2,
                                                  info="the same excerpt, budget and seed")
                self.preset = gr.Radio([(f"{name} · {calls:,} calls", name)
                                        for name, calls in presets.items()],
                                       value=s.default_preset, label="budget (model calls)",
                                       elem_id="preset")
                self.estimate = gr.Markdown(estimate_md(default_model, presets[s.default_preset],
                                                        limits.default_excerpt_s, limits),
                                            elem_id="estimate")
                with gr.Row():
                    self.explain_btn = gr.Button("Explain", variant="primary", size="lg",
                                                 elem_id="explain-btn", scale=3)
                    self.cancel_btn = gr.Button("Cancel", variant="stop", size="lg",
                                                elem_id="cancel-btn", scale=1)
                # the place in line and the wait, or the progress (kept current by the timer)
                self.queue_md = gr.Markdown(visible=False, elem_id="queue-status")
                self.queue_timer = gr.Timer(1.0, active=False)
                with gr.Accordion("Model details · Hugging Face model" if hf_available()
                                  else "Model details", open=False):
                    self.model_md = gr.Markdown(model_md(default_model, default_view))
                    self.hf_box = gr.Textbox(label="…or a Hugging Face audio classifier id",
                                             placeholder="org/name (loaded from the local cache)",
                                             visible=hf_available(), elem_id="hf-id")
                with gr.Accordion("Advanced", open=False):
                    with gr.Row():
                        self.seed = gr.Number(0, precision=0, label="seed", minimum=0)
                        self.stft = gr.Checkbox(True, label="STFT flip (time-frequency)")
                if examples:
                    gr.Markdown(credits_md(examples), elem_id="credits")
                with gr.Accordion("Limits of this playground", open=False):
                    gr.Markdown("\n".join(["| limit | value |", "|---|---|"] +
                                          [f"| {k} | {v} |" for k, v in limits.table()]))

            # ---------------------------------------------------------------- results
            with gr.Column(scale=7, min_width=520):
                self.placeholder = gr.HTML(
                    '<div class="fx-placeholder"><b>Try an example</b> on the left (instant), '
                    'or drop a track, choose the excerpt and the model, and press '
                    '<b>Explain</b>.<ol class="fx-steps"><li>the model\'s label and its top '
                    'scores</li><li>the <b>responsibility spectrogram</b>: where in time and '
                    'frequency the label comes from</li><li>the frequencies that are '
                    '<b>sufficient</b> and <b>necessary</b> for it</li><li>the smallest '
                    'changes that keep or <b>flip</b> the label, to listen to beside the '
                    'original</li></ol></div>', elem_id="placeholder")
                with gr.Column(visible=False, elem_id="results") as self.results:
                    self.headline = gr.HTML(elem_id="headline")
                    with gr.Accordion("Key: the words on this page", open=False,
                                      elem_id="glossary"):
                        gr.HTML(GLOSSARY)
                    # two models on the same excerpt: a column each, one colour scale
                    with gr.Column(visible=False, elem_id="comparison") as self.compare_col:
                        self.compare_summary = gr.Markdown(elem_id="compare-summary")
                        with gr.Row(equal_height=False):
                            with gr.Column(min_width=300, elem_id="compare-first"):
                                self.compare_head_a = gr.Markdown(elem_id="compare-heading-a")
                                self.compare_lead_a = gr.Markdown(elem_id="compare-lead-a")
                                self.compare_plot_a = gr.Plot(
                                    show_label=False, elem_id="compare-spectrogram-a")
                            with gr.Column(min_width=300, elem_id="compare-second"):
                                self.compare_head = gr.Markdown(elem_id="compare-heading-b")
                                self.compare_lead = gr.Markdown(elem_id="compare-lead")
                                self.compare_plot = gr.Plot(show_label=False,
                                                            elem_id="compare-spectrogram")
                                with gr.Row():
                                    self.compare_changed = gr.Audio(
                                        type="filepath", label="changed", interactive=False,
                                        elem_id="compare-changed", buttons=["download"])
                                    self.compare_removed = gr.Audio(
                                        type="filepath", label="what was removed",
                                        interactive=False, elem_id="compare-removed",
                                        buttons=["download"])
                        with gr.Accordion("The second model's perturbations", open=False):
                            self.compare_df = gr.Dataframe(
                                headers=["perturbation", "size", "label", "confidence",
                                         "SNR (dB)", "MOS", "outcome"],
                                interactive=False,
                                show_label=False, elem_id="compare-table", wrap=True)
                    # the least audible flip: in words, then original / changed / removed
                    self.lead_md = gr.Markdown(elem_id="lead")
                    with gr.Row():
                        self.lead_orig = gr.Audio(type="filepath", label="original",
                                                  interactive=False, elem_id="lead-original",
                                                  buttons=["download"])
                        self.lead_changed = gr.Audio(type="filepath", label="changed",
                                                     interactive=False, elem_id="lead-changed",
                                                     buttons=["download"])
                        self.lead_removed = gr.Audio(type="filepath", label="what was removed",
                                                     interactive=False, elem_id="lead-removed",
                                                     buttons=["download"])
                    self.suff_md = gr.Markdown(elem_id="sufficient-lead")
                    with gr.Row():
                        self.suff_player = gr.Audio(type="filepath",
                                                    label="sufficient set, at the true level",
                                                    interactive=False, elem_id="suff-true",
                                                    buttons=["download"])
                        self.suff_loud = gr.Audio(type="filepath", label="sufficient set, amplified",
                                                  interactive=False, elem_id="suff-loud",
                                                  buttons=["download"])
                    with gr.Row(equal_height=False):
                        self.scores = gr.Label(num_top_classes=5, label="top scores", scale=2,
                                               elem_id="scores")
                        self.facts = gr.Markdown(elem_id="facts")
                    self.spectro_plot = gr.Plot(label="Responsibility spectrogram on the mel "
                                                      "scale (zoom and hover)",
                                                elem_id="fig-spectrogram")
                    with gr.Tabs():
                        with gr.Tab("Responsibility over frequency"):
                            self.freq_plot = gr.Plot(show_label=False,
                                                     elem_id="fig-responsibility")
                        with gr.Tab("Notes and registers"):
                            self.notes_plot = gr.Plot(show_label=False, elem_id="fig-notes")
                            self.notes_text = gr.Markdown(elem_id="notes-summary")
                        with gr.Tab("Spectrum and sets"):
                            self.spectrum_img = gr.Image(type="filepath", format="png",
                                                         show_label=False, interactive=False,
                                                         elem_id="fig-spectrum",
                                                         buttons=["download", "fullscreen"])
                            self.sets_df = gr.Dataframe(headers=["set", "bins", "share of bins",
                                                                 "share of energy", "note"],
                                                        interactive=False, elem_id="sets-table")
                        with gr.Tab("Waveform"):
                            self.wave_img = gr.Image(type="filepath", format="png",
                                                     show_label=False, interactive=False,
                                                     elem_id="fig-waveform")
                        with gr.Tab("How to read this"):
                            gr.Markdown(HOW)
                    gr.Markdown("### Hear the minimal perturbations")
                    self.pert_btns = {}
                    with gr.Row(elem_classes="fx-pert-buttons"):
                        for name, title in PERTURBATION_NAMES.items():
                            self.pert_btns[name] = gr.Button(title, size="sm",
                                                             elem_id=f"pert-{name}", min_width=60)
                    self.pert_md = gr.Markdown(elem_id="pert-caption")
                    with gr.Row():
                        self.orig_player = gr.Audio(type="filepath", label="original",
                                                    interactive=False, elem_id="player-original",
                                                    buttons=["download"])
                        self.pert_player = gr.Audio(type="filepath", label="perturbed",
                                                    interactive=False, elem_id="player-perturbed",
                                                    buttons=["download"])
                    self.pert_img = gr.Image(type="filepath", format="png", show_label=False,
                                             interactive=False, elem_id="fig-perturbation",
                                             buttons=["download", "fullscreen"])
                    self.pert_df = gr.Dataframe(headers=["perturbation", "size", "label",
                                                         "confidence", "SNR (dB)",
                                                         "MOS", "outcome"],
                                                interactive=False, label="all perturbations",
                                                elem_id="pert-table", wrap=True,
                                                column_widths=["16%", "19%", "14%", "12%",
                                                               "11%", "8%", "20%"])
                    with gr.Row():
                        self.json_file = gr.File(label="explanation.json", elem_id="download-json")
                        self.zip_file = gr.File(label="everything (zip: JSON, sets, WAVs, PNGs)",
                                                elem_id="download-zip")
                    with gr.Accordion("Explanation JSON", open=False):
                        self.json_view = gr.JSON(elem_id="json-view")
                    self.notes = gr.Markdown(elem_id="notes")

        # ------------------------------------------------------------ API-only components
        with gr.Column(visible=False):
            self.api_audio = gr.Audio(type="filepath", label="audio", sources=["upload"])
            self.api_model = gr.Textbox(default_model, label="model")
            self.api_view = gr.Textbox("auto", label="labels_view")
            self.api_start = gr.Number(0.0, label="start")
            self.api_duration = gr.Number(limits.default_excerpt_s, label="duration")
            self.api_budget = gr.Number(presets[s.default_preset], precision=0, label="budget")
            self.api_seed = gr.Number(0, precision=0, label="seed")
            self.api_stft = gr.Checkbox(True, label="stft")
            self.api_contrast = gr.Textbox("", label="contrast")
            self.api_compare = gr.Textbox("", label="compare_model")
            self.api_json = gr.JSON(label="explanation")
            self.api_files = gr.File(file_count="multiple", label="files")
            self.api_zip = gr.File(label="zip")
        self.components = self._named()

    def _named(self) -> dict[str, Block]:
        """Every component by its name: its attribute, or :func:`render.button` of a
        perturbation; every name the results fill must be one (checked when the page is
        built, not when it runs)."""
        named = {k: v for k, v in vars(self).items() if isinstance(v, Block)}
        named.update({button(n): b for n, b in self.pert_btns.items()})
        missing = [k for k in RESULT_KEYS if k not in named]
        if missing:
            raise KeyError(f"the results fill components the page lacks: {missing}")
        return named

    def fill(self, values: Mapping[str, Any]) -> dict[Block, Any]:
        """Gradio's return value for ``values`` keyed by component name (see
        :data:`render.Values`): a component left out stays as it is; an unknown name raises."""
        return {self.components[name]: value for name, value in values.items()}

    @property
    def pert_names(self) -> list[str]:
        return list(PERTURBATION_NAMES)

    @property
    def pert_buttons(self) -> list:
        return [self.pert_btns[n] for n in PERTURBATION_NAMES]

    @property
    def result_outputs(self) -> list:
        """The components :func:`render.result_values` may fill, in the page's order."""
        return [self.components[k] for k in RESULT_KEYS] + self.pert_buttons

    @property
    def perturbation_outputs(self) -> list:
        """What :func:`render.perturbation_values` fills, then the perturbation buttons."""
        return [self.components[k] for k in PERTURBATION_KEYS] + self.pert_buttons

    @property
    def explain_inputs(self) -> list:
        return [self.audio_in, self.model_dd, self.hf_box, self.view, self.start, self.duration,
                self.preset, self.seed, self.stft, self.foil, self.compare_dd]

    @property
    def api_inputs(self) -> list:
        return [self.api_audio, self.api_model, self.api_view, self.api_start,
                self.api_duration, self.api_budget, self.api_seed, self.api_stft,
                self.api_contrast, self.api_compare]

    @property
    def api_outputs(self) -> list:
        return [self.api_json, self.api_files, self.api_zip]
