"""Boilerplate shared by the gRPC servers: flags, serving, errors, audio, languages."""
