"""Subcommands of the `spasmwatch` CLI: each module defines `register(subparsers)`."""
