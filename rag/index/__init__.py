"""Index: embed chunks and keep them on disk (vectors, BM25, texts, manifest), updating only what changed."""
