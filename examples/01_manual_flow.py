"""Manual flow: embed with a provider's client, store the vectors, embed the query the
same way, and search by vector.

Uses OpenAI when OPENAI_API_KEY is set, else a local OpenAI-compatible endpoint.
"""

from _openai_endpoint import openai_endpoint
from openai import OpenAI

import vectorhouse

texts = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]

with openai_endpoint() as (base_url, api_key, model):
    client = OpenAI(base_url=base_url, api_key=api_key)

    # 1. Embed the documents with the provider.
    response = client.embeddings.create(model=model, input=texts)
    embeddings = [item.embedding for item in response.data]

    # 2. Store vectors and texts. The vectors come from outside, so the collection
    #    gets no model of its own: text where a vector belongs is then an error.
    db = vectorhouse.Client()
    collection = db.create_collection("manual_docs", embedding_function=None)
    collection.add(ids=["doc1", "doc2", "doc3"], embeddings=embeddings, documents=texts)

    # 3. Embed the query with the SAME model, then search by vector.
    query = client.embeddings.create(model=model, input=["Python coding"])
    results = collection.query(query_embeddings=[query.data[0].embedding], n_results=2)
    print(results["documents"])
