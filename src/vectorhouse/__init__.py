"""vectorhouse: an embedded vector database with embedding models built in."""

__all__: list[str] = []
