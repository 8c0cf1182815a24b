"""constrain: a fast dependency constraint resolver, installer and wheelhouse builder."""

__version__ = "0.1.0"
