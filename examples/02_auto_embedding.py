"""Auto-embedding: the collection embeds documents and queries with the built-in model
(all-MiniLM-L6-v2, offline), so both always go through the same model."""

import vectorhouse

client = vectorhouse.Client()
collection = client.create_collection("auto_embed")

collection.add(
    ids=["doc1", "doc2", "doc3"],
    documents=["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"],
)

results = collection.query(query_texts=["coding in Python"], n_results=2)
print(results["documents"])
