"""``python -m freqrex_app ARGS`` is ``freqrex ARGS``."""
from .cli.main import main

raise SystemExit(main())
