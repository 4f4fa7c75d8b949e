"""TranslatorService: streaming text translation over gRPC (Apertium and Bergamot engines)."""
