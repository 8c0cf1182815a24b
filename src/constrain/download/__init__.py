"""Wheelhouses for air-gapped builds: download, verify, manifest."""
