"""The public threat feed: queries, pagination, publication, withdrawal and the HTTP API."""
