"""The Milvus backend: the collection API over Milvus or milvus-lite (``vectorhouse[milvus]``).

pymilvus is imported only when a :class:`~vectorhouse.MilvusClient` is created.
"""
