"""Client-side helpers for the servers: the Node.js example client and Python helpers."""
