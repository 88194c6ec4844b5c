"""``python -m galla.cli ...`` (what ``accelerate launch -m galla.cli`` runs)."""

import sys

from galla.cli import program

sys.exit(program())
