"""Answer: turn retrieved passages into a short cited answer, or abstain.

``protocol`` is the contract (``Answerer``: ``run(retrieval)``, ``stream(retrieval)``; ``Lookup``).
Answerers: ``sentences`` quotes the best sentences (no model; scored by ``evidence``), ``reader_answerer``
gives the trained reader's short answer and its sentence (the model in ``reader``, trained by ``training``),
``llm`` asks an opt-in chat model. Lookups: ``legal`` ("what does Điều N say"), ``tables`` (a row's cell).
``lists`` completes list answers; ``cite`` builds and checks every citation.
"""
