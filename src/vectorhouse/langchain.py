"""LangChain integration (``pip install 'vectorhouse[langchain]'``).

- :class:`Vectorhouse`: a LangChain ``VectorStore`` kept in a vectorhouse collection.
- :class:`LangChainEmbeddingFunction` and :func:`to_langchain`: LangChain ``Embeddings``
  as a vectorhouse embedding function, and back.

Importing ``vectorhouse`` does not load LangChain; importing this module does.

>>> from vectorhouse.langchain import Vectorhouse
>>> store = Vectorhouse.from_texts(["I love Python programming", "I enjoy cooking pasta"])
>>> store.similarity_search("Python coding", k=1)[0].page_content
'I love Python programming'
"""

from vectorhouse.embeddings.langchain import LangChainEmbeddingFunction, to_langchain
from vectorhouse.integrations.langchain import Vectorhouse

__all__ = ["LangChainEmbeddingFunction", "Vectorhouse", "to_langchain"]
