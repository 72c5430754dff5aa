"""Answer: turn retrieved passages into a short cited answer, or abstain.

``protocol.Answerer`` is the contract; ``sentences`` quotes the best sentences (no model),
``llm`` asks an opt-in chat model, ``cite`` builds and checks every citation.
"""
