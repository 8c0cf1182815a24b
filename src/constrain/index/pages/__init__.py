"""Pages: project listings from indexes and find-links, index priority, the page cache, prefetch."""
