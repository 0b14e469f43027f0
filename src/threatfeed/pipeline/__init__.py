"""The work between the registries and the store: queueing, fetching, analysing, recording."""
