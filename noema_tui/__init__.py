"""Noema's terminal front ends: the Typer CLI and the Textual chat app."""
