"""Jupyter widgets (anywidget: ESM and CSS beside each module, no build step).

``Timeline`` steps through a trace; ``CFGView`` shows a control-flow graph whose
blocks and edges can be highlighted; ``show`` links the two; ``Explorer`` studies
events per code object and re-runs code with chosen local events.
"""

from __future__ import annotations

from .cfgview import CFGView
from .explorer import Explorer
from .show import Linked, show
from .timeline import Timeline

__all__ = ["CFGView", "Explorer", "Linked", "Timeline", "show"]
