"""Noema over HTTP: the wire format of decoding events, and an engine that lives on a server.

`wire` turns the engine's event dataclasses into JSON objects and back; `noema_server` sends
them and `RemoteEngine` (in `client`) reads them, so a remote chat draws the same live block
as a local one. Nothing here imports torch, Textual or Rich.
"""
