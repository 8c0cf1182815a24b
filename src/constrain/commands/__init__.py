"""Subcommands beyond resolve: each module registers its arguments and runs one command."""
