"""Streaming text-to-speech gRPC server (TextToSpeechService)."""

import os

# espeak-ng forks the mbrola binary for MBROLA voices; gRPC's fork handlers break a
# child forked from a worker thread (it aborts before exec). Nothing here forks to run
# gRPC in the child, so they are off (must be set before grpc loads).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
