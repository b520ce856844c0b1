"""The page's fixed words: the header, the placeholder, how to read a result and the glossary
(HTML and Markdown; the words of a result come from :mod:`render`)."""
from __future__ import annotations

__all__ = ["INTRO", "PLACEHOLDER", "HOW", "GLOSSARY"]

INTRO = """
<div class="fx-header">
<h1>FreqReX · which frequencies made the model say that?</h1>
<p>Drop in a music clip. FreqReX finds the frequencies that <b>cause</b> an audio classifier's
label (actual causality, not gradients), then lets you <b>hear</b> the smallest changes that
keep or flip it.</p>
</div>
"""

#: What the results column shows before the first result.
PLACEHOLDER = (
    '<div class="fx-placeholder"><b>Try an example</b> on the left (instant), '
    'or drop a track, choose the excerpt and the model, and press '
    '<b>Explain</b>.<ol class="fx-steps"><li>the model\'s label and its top '
    'scores</li><li>the <b>responsibility spectrogram</b>: where in time and '
    'frequency the label comes from</li><li>the frequencies that are '
    '<b>sufficient</b> and <b>necessary</b> for it</li><li>the smallest '
    'changes that keep or <b>flip</b> the label, to listen to beside the '
    'original</li></ol></div>')

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
