"""A provider's model bound to a collection: OpenAIEmbeddingFunction embeds the
documents on add and the query texts on query.

Uses OpenAI when OPENAI_API_KEY is set, else a local OpenAI-compatible endpoint.
"""

from _openai_endpoint import openai_endpoint

import vectorhouse
from vectorhouse.embedding_functions import OpenAIEmbeddingFunction

with openai_endpoint() as (base_url, api_key, model):
    openai_ef = OpenAIEmbeddingFunction(api_key=api_key, model_name=model, api_base=base_url)

    client = vectorhouse.Client()
    collection = client.create_collection("openai_docs", embedding_function=openai_ef)

    collection.add(
        ids=["doc1", "doc2", "doc3"],
        documents=["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"],
    )

    results = collection.query(query_texts=["Python coding"], n_results=2)
    print(results["documents"])
