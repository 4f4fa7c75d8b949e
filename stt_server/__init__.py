"""Streaming speech-to-text gRPC server (SpeechToTextService)."""

import os

# CTranslate2's OpenMP threads spin-wait by default, starving the other model servers
# that share the cores; make them sleep when idle (must be set before it loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
