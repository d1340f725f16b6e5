"""LangChain: a vector store built from texts, kept on disk under ./vh_db.

Any LangChain Embeddings works (e.g. langchain_openai.OpenAIEmbeddings); here
OpenAIEmbeddingFunction, seen by LangChain through to_langchain, talks to OpenAI when
OPENAI_API_KEY is set, else to a local OpenAI-compatible endpoint. Leave out
`embedding=` and the collection's built-in model embeds instead.
"""

from _openai_endpoint import openai_endpoint

from vectorhouse.embedding_functions import OpenAIEmbeddingFunction
from vectorhouse.langchain import Vectorhouse, to_langchain

with openai_endpoint() as (base_url, api_key, model):
    embeddings = to_langchain(
        OpenAIEmbeddingFunction(api_key=api_key, model_name=model, api_base=base_url)
    )

    vectorstore = Vectorhouse.from_texts(
        texts=["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"],
        embedding=embeddings,
        ids=["doc1", "doc2", "doc3"],  # a second run overwrites them instead of adding copies
        persist_directory="./vh_db",
    )
    for doc in vectorstore.similarity_search("Python coding", k=2):
        print(doc.page_content)
