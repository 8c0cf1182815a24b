"""Transport: the HTTP/2 client, its retries, its network layer and the patches it applies."""
