"""model_torch.py looks for the twin of "sequencer2d-s" under the name before the dash: the twin is in sequencer.py."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location("twin_sequencer_shared", os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequencer.py"))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
build = _module.build
