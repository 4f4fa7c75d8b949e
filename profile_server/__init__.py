"""Voice profile server: enrolls speakers, embeds and compares voices over gRPC."""
