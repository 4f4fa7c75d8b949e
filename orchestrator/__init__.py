"""The conference orchestrator: an ARI application that moves each caller's 20 ms frames
through InputBuffer -> ASRQueue -> MTQueue -> TTSQueue -> PlaybackQueue."""
