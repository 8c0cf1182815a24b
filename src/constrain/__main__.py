"""``python -m constrain``: the same as the ``constrain`` command."""

from .cli import entry

if __name__ == "__main__":  # not when a worker process imports this module
    entry()
