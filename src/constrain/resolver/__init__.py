"""The resolver: a resolvelib provider over a MetadataProvider, and explanations of conflicts."""
