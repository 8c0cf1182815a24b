"""Constraint and requirement inputs: parsing files and URLs into sets with origins."""
