"""Hugging Face Spaces entry point: ``python app.py`` serves the FreqReX app.

Locally, prefer ``freqrex app`` (127.0.0.1:7860). On Spaces, GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are set by the platform and used by ``launch``.
"""
from freqrex_app.web import build_app, launch_options

demo = build_app()

if __name__ == "__main__":
    demo.launch(**launch_options(demo=demo))  # with the gate in front of every route
