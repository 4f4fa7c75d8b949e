"""Streaming speech-to-text gRPC server (SpeechToTextService)."""
