"""Search: analyse the question once, then find the passages that answer it (dense + BM25)."""
