"""The training stand-ins (training/fakes.py) are importable from every core test."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "training"))
