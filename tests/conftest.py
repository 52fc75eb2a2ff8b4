"""Test set-up: make monviz importable from a plain checkout (no install needed)."""

import importlib.util
import os
import sys

if importlib.util.find_spec("monviz") is None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
