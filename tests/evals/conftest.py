"""An eval of the seed dev questions, run once for the runner, report and CLI tests."""

from __future__ import annotations

import pytest

from tests.conftest import SEED_DEV, SEEDS


@pytest.fixture(scope="session")
def seed_eval(seed_assistant):
    from evals.loading import load_questions
    from evals.runner import EvalRunner
    from rag import Assistant

    qa = Assistant(seed_assistant.index, settings=seed_assistant.settings.with_(top_k=10),
                   encoder=seed_assistant.encoder)
    config = {"corpus": str(SEEDS), "questions": str(SEED_DEV), "invalid_lines": []}
    return EvalRunner(qa, k=10).run(load_questions(SEED_DEV).questions, config=config)
