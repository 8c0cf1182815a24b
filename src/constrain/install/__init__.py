"""Installing an install set into a virtual environment."""
