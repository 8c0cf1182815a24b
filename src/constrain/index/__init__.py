"""Index access: transport/ (HTTP/2), pages/ (listings, find-links), metadata/, whole files."""
