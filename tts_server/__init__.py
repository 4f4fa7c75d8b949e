"""Streaming text-to-speech server: TextToSpeechService over gRPC."""
