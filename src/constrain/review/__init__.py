"""What a reviewer of a wheelhouse or a constraints file needs: licences, SBOM, provenance, vulnerabilities, consistency across targets."""
