"""Hybrid search: BM25 over the words and the model's vectors, fused.

A sentence embedding sees these log lines as near-duplicates; the error code in the
question is what tells them apart, and BM25 weighs that rare token.
"""

import vectorhouse
from vectorhouse import K, Knn, Rrf, Search

client = vectorhouse.Client()
logs = client.create_collection("logs")
logs.add(
    ids=["e4021", "e4012", "e2104", "e4210", "e1402", "w0421", "pcf", "lcf", "net", "pasta"],
    documents=[
        "E4021 raised by the storage controller on volume three",
        "Disk error E4012: the disk is nearly full, writes will slow down",
        "Disk error E2104: a disk write failed, the block was remapped",
        "Disk error E4210: the disk was unmounted while a write was pending",
        "Disk error E1402: the disk cache is full, flushing it to storage",
        "Disk warning W0421: the disk is getting full, consider cleaning up",
        "parse_config_file() reads the settings file and returns a dict",
        "load_config_file() opens the settings file and parses it",
        "A network timeout while connecting to the database server",
        "Cooking pasta needs plenty of salted boiling water",
    ],
    metadatas=[{"level": "error"}] * 5 + [{"level": "warning"}] + [{"level": "info"}] * 4,
)

question = "disk error E4021"
for mode in ("dense", "lexical", "hybrid"):
    found = logs.query(query_texts=[question], n_results=3, mode=mode)
    print(f"{mode:8}", found["ids"][0])

# Chroma's Search API: a Knn on a key other than "#embedding" ranks with BM25.
bm25 = Knn(query=question, key="sparse_embedding", limit=10, default=0.0)
rank = Knn(query=question, limit=10) * 0.6 + bm25 * 0.4  # distance minus BM25: lower first
search = Search().where(K("level") == "error").rank(rank).limit(2).select(K.SCORE)
for row in logs.search(search).rows()[0]:
    print(row["id"], round(row["score"], 3))
rrf = Rrf(
    [Knn(query=question, return_rank=True), Knn(query=question, key="bm25", return_rank=True)]
)
print(logs.search(Search().rank(rrf).limit(3))["ids"])
