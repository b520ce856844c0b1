"""The page's components and their arrangement (no callbacks): ``Layout(settings)`` inside a
``gr.Blocks`` context builds them and keeps each as an attribute."""
from __future__ import annotations

from typing import Any, Mapping

import gradio as gr
from gradio.blocks import Block

from .model_cache import hf_available
from .page_text import GLOSSARY, HOW, INTRO, PLACEHOLDER
from .perturbations import PERTURBATION_NAMES
from .render import PERTURBATION_KEYS, RESULT_KEYS, button, foil_choices
from .sentences import credits_md, estimate_md, model_md
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

#: The columns of a table of perturbations (this model's, and the second model's).
_PERT_HEADERS = ["perturbation", "size", "label", "confidence", "SNR (dB)", "MOS", "outcome"]


def _player(label: str, elem_id: str) -> gr.Audio:
    """A result's audio player: played, downloaded, never recorded into."""
    return gr.Audio(type="filepath", label=label, interactive=False, elem_id=elem_id,
                    buttons=["download"])


def _plot(elem_id: str, label: str | None = None) -> gr.Plot:
    """An interactive (plotly) figure, with its label or none."""
    if label is None:
        return gr.Plot(show_label=False, elem_id=elem_id)
    return gr.Plot(label=label, elem_id=elem_id)


def _image(elem_id: str, **kwargs: Any) -> gr.Image:
    """A figure drawn to a PNG file (matplotlib)."""
    return gr.Image(type="filepath", format="png", show_label=False, interactive=False,
                    elem_id=elem_id, **kwargs)


class Layout:
    """Every component of the page, built in order; call inside ``with gr.Blocks():``."""

    def __init__(self, settings: AppSettings):
        s = settings
        self.job_state = gr.State(None, time_to_live=int(s.limits.job_ttl_s))  # the job's folder
        gr.HTML(INTRO)
        if s.hub_problems:  # allow-listed Hub models that did not load, one line each
            gr.Markdown("\n".join(f"- ⚠ {p}" for p in s.hub_problems), elem_id="hub-problems")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=360):
                self._inputs(s)
            with gr.Column(scale=7, min_width=520):
                self.placeholder = gr.HTML(PLACEHOLDER, elem_id="placeholder")
                with gr.Column(visible=False, elem_id="results") as self.results:
                    self._results()
        with gr.Column(visible=False):
            self._api(s)
        self.components = self._named()

    def _inputs(self, s: AppSettings) -> None:
        """The left column: the clip and its excerpt, the model and the budget, Explain and
        Cancel, then the details."""
        self._clip(s)
        self._model(s)
        self._run(s)

    def _clip(self, s: AppSettings) -> None:
        """The clip (uploaded, recorded or an example), its preview and the excerpt."""
        limits, examples = s.limits, s.examples
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

    def _model(self, s: AppSettings) -> None:
        """The model, its labels view, a foil, a second model and the budget with its
        estimate."""
        limits, presets, model_ids = s.limits, s.presets, s.model_ids
        default_model, default_view = s.default_model, s.default_view
        with gr.Row():
            self.model_dd = gr.Dropdown(model_ids, value=default_model, label="model",
                                        elem_id="model", scale=3)
            self.view = gr.Radio(s.default_views, value=default_view, label="labels view",
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

    def _run(self, s: AppSettings) -> None:
        """Explain and Cancel, the place in line, the model's details, the advanced settings,
        the music's credits and the playground's limits."""
        limits, examples, default_model, default_view = (s.limits, s.examples, s.default_model,
                                                         s.default_view)
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

    def _results(self) -> None:
        """The right column once there is a result (or a picture of one running)."""
        self.headline = gr.HTML(elem_id="headline")
        with gr.Accordion("Key: the words on this page", open=False, elem_id="glossary"):
            gr.HTML(GLOSSARY)
        with gr.Column(visible=False, elem_id="comparison") as self.compare_col:
            self._comparison()
        self._lead()
        self._figures()
        self._perturbations()
        self._downloads()

    def _comparison(self) -> None:
        """Two models on the same excerpt: a column each, one colour scale."""
        self.compare_summary = gr.Markdown(elem_id="compare-summary")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300, elem_id="compare-first"):
                self.compare_head_a = gr.Markdown(elem_id="compare-heading-a")
                self.compare_lead_a = gr.Markdown(elem_id="compare-lead-a")
                self.compare_plot_a = _plot("compare-spectrogram-a")
            with gr.Column(min_width=300, elem_id="compare-second"):
                self.compare_head = gr.Markdown(elem_id="compare-heading-b")
                self.compare_lead = gr.Markdown(elem_id="compare-lead")
                self.compare_plot = _plot("compare-spectrogram")
                with gr.Row():
                    self.compare_changed = _player("changed", "compare-changed")
                    self.compare_removed = _player("what was removed", "compare-removed")
        with gr.Accordion("The second model's perturbations", open=False):
            self.compare_df = gr.Dataframe(headers=_PERT_HEADERS, interactive=False,
                                           show_label=False, elem_id="compare-table",
                                           wrap=True)

    def _lead(self) -> None:
        """The least audible flip in words, then original / changed / removed; the sufficient
        set in words and its two players; the top scores and the facts."""
        self.lead_md = gr.Markdown(elem_id="lead")
        with gr.Row():
            self.lead_orig = _player("original", "lead-original")
            self.lead_changed = _player("changed", "lead-changed")
            self.lead_removed = _player("what was removed", "lead-removed")
        self.suff_md = gr.Markdown(elem_id="sufficient-lead")
        with gr.Row():
            self.suff_player = _player("sufficient set, at the true level", "suff-true")
            self.suff_loud = _player("sufficient set, amplified", "suff-loud")
        with gr.Row(equal_height=False):
            self.scores = gr.Label(num_top_classes=5, label="top scores", scale=2,
                                   elem_id="scores")
            self.facts = gr.Markdown(elem_id="facts")

    def _figures(self) -> None:
        """The responsibility spectrogram, then the other figures in tabs."""
        self.spectro_plot = _plot("fig-spectrogram", label="Responsibility spectrogram on "
                                                           "the mel scale (zoom and hover)")
        with gr.Tabs():
            with gr.Tab("Responsibility over frequency"):
                self.freq_plot = _plot("fig-responsibility")
            with gr.Tab("Notes and registers"):
                self.notes_plot = _plot("fig-notes")
                self.notes_text = gr.Markdown(elem_id="notes-summary")
            with gr.Tab("Spectrum and sets"):
                self.spectrum_img = _image("fig-spectrum", buttons=["download", "fullscreen"])
                self.sets_df = gr.Dataframe(headers=["set", "bins", "share of bins",
                                                     "share of energy", "note"],
                                            interactive=False, elem_id="sets-table")
            with gr.Tab("Waveform"):
                self.wave_img = _image("fig-waveform")
            with gr.Tab("How to read this"):
                gr.Markdown(HOW)

    def _perturbations(self) -> None:
        """A button per perturbation, the chosen one's players and figure, and the table of
        them all."""
        gr.Markdown("### Hear the minimal perturbations")
        self.pert_btns = {}
        with gr.Row(elem_classes="fx-pert-buttons"):
            for name, title in PERTURBATION_NAMES.items():
                self.pert_btns[name] = gr.Button(title, size="sm", elem_id=f"pert-{name}",
                                                 min_width=60)
        self.pert_md = gr.Markdown(elem_id="pert-caption")
        with gr.Row():
            self.orig_player = _player("original", "player-original")
            self.pert_player = _player("perturbed", "player-perturbed")
        self.pert_img = _image("fig-perturbation", buttons=["download", "fullscreen"])
        self.pert_df = gr.Dataframe(headers=_PERT_HEADERS, interactive=False,
                                    label="all perturbations", elem_id="pert-table", wrap=True,
                                    column_widths=["16%", "19%", "14%", "12%", "11%", "8%",
                                                   "20%"])

    def _downloads(self) -> None:
        """The files, the JSON and the notes."""
        with gr.Row():
            self.json_file = gr.File(label="explanation.json", elem_id="download-json")
            self.zip_file = gr.File(label="everything (zip: JSON, sets, WAVs, PNGs)",
                                    elem_id="download-zip")
        with gr.Accordion("Explanation JSON", open=False):
            self.json_view = gr.JSON(elem_id="json-view")
        self.notes = gr.Markdown(elem_id="notes")

    def _api(self, s: AppSettings) -> None:
        """The ``explain`` endpoint's inputs and outputs (hidden: the API's, not the page's)."""
        limits, presets, default_model = s.limits, s.presets, s.default_model
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
