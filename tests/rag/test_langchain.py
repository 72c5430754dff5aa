"""The assistant as LangChain users expect it: ``qa.chain`` (a Runnable: invoke → Answer, stream → text,
async alike), ``aask``/``astream``, and retriever documents that carry their span and place."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from rag.answer.cite import cite
from rag.errors import InstructionsError, QuestionError
from rag.types import Answer
from tests.conftest import DATA, ROOT

ASKED = "Cụm thi đua số 2 gồm những tỉnh nào?"
WHO = "Ai chủ trì hội nghị giao ban khu vực miền Bắc?"


def readme_langchain_example() -> str:
    """The README's Python block that uses ``qa.chain``, as it is written there."""
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    found = [b for b in blocks if "qa.chain" in b]
    assert len(found) == 1, "the README should show qa.chain in one Python block"
    return found[0]


def test_the_readmes_langchain_example_runs_verbatim(seed_assistant, capsys):
    names = {"qa": seed_assistant}  # made by the README's block before it, over the same seeds
    exec(compile(readme_langchain_example(), "README.md", "exec"), names)  # noqa: S102
    printed = capsys.readouterr().out
    answer = names["answer"]
    assert isinstance(answer, Answer) and "Trương Thị Mai" in answer.text and answer.citations
    assert "Lạng Sơn" in printed and "Hà Tĩnh" in printed  # the streamed answer
    assert "Cụm thi đua số III" in names["follow_up"].search_query  # the follow-up was completed
    assert names["cited"] and all(s in seed_assistant.index.texts for s in names["cited"])
    assert all(isinstance(a, Answer) and not a.abstained for a in names["answers"])
    assert re.search(r"\[\d{3}_\w+\.txt:\d+-\d+\] ", printed)  # the retrieved context, with its spans


def test_invoke_returns_the_answer_ask_gives(seed_assistant):
    chained = seed_assistant.chain.invoke(ASKED)
    asked = seed_assistant.ask(ASKED)
    assert isinstance(chained, Answer)
    assert (chained.text, chained.citations, chained.answerer) == (asked.text, asked.citations, asked.answerer)
    by_dict = seed_assistant.chain.invoke({"question": ASKED, "top_k": 2, "answerer": "reader"})
    assert len(by_dict.passages) == 2 and by_dict.answerer == "reader"


def test_stream_yields_the_text_in_pieces(seed_assistant):
    pieces = list(seed_assistant.chain.stream(ASKED))
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == seed_assistant.ask(ASKED).text


def test_a_follow_up_by_dict_history_or_chat_messages(seed_assistant):
    earlier = seed_assistant.ask(ASKED)
    expected = seed_assistant.ask("Còn cụm số III thì sao?", history=[ASKED]).search_query
    assert expected != "Còn cụm số III thì sao?"
    for history in ([ASKED], [earlier], [{"role": "user", "content": ASKED}, {"role": "assistant", "content": "…"}]):
        got = seed_assistant.chain.invoke({"input": "Còn cụm số III thì sao?", "chat_history": history})
        assert got.search_query == expected
    messages = [{"role": "user", "content": ASKED}, {"role": "assistant", "content": earlier.text},
                {"role": "user", "content": "Còn cụm số III thì sao?"}]
    assert seed_assistant.chain.invoke(messages).search_query == expected


def test_a_chat_prompt_feeds_the_chain_and_its_system_message_is_refused_by_an_extractive_answerer(seed_assistant):
    asking = ChatPromptTemplate.from_messages([("human", "{question}")]) | seed_assistant.chain
    assert asking.invoke({"question": WHO}).text == seed_assistant.ask(WHO).text
    instructed = ChatPromptTemplate.from_messages([("system", "Trả lời ngắn."), ("human", "{question}")])
    with pytest.raises(InstructionsError, match="takes no instructions"):
        (instructed | seed_assistant.chain).invoke({"question": WHO})


def test_composed_the_next_step_gets_the_answer_whether_invoked_or_streamed(seed_assistant):
    sources = seed_assistant.chain | RunnableLambda(lambda a: [c.source for c in a.citations])
    invoked = sources.invoke(WHO)
    assert invoked and list(sources.stream(WHO)) == [invoked]
    assigned = RunnablePassthrough.assign(answer=seed_assistant.chain).invoke({"question": WHO})
    assert isinstance(assigned["answer"], Answer) and assigned["question"] == WHO


def test_bad_input_names_what_the_chain_takes(seed_assistant):
    with pytest.raises(QuestionError, match="needs 'question' \\(or 'input'\\).*got \\['q'\\]"):
        seed_assistant.chain.invoke({"q": ASKED})
    with pytest.raises(QuestionError, match="got int"):
        seed_assistant.chain.invoke(42)
    with pytest.raises(QuestionError, match="empty"):
        list(seed_assistant.chain.stream("  "))


def test_async_answers_match_and_the_event_loop_keeps_running(seed_assistant):
    qa = seed_assistant

    async def main():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.002)
                ticks += 1

        ticker = asyncio.create_task(tick())
        asked = await qa.aask(ASKED)
        ticked = ticks  # a blocking aask would leave the ticker no turn until it returned
        streamed = [item async for item in qa.astream(ASKED)]
        chained = await qa.chain.ainvoke({"input": ASKED})
        pieces = [p async for p in qa.chain.astream(ASKED)]
        both = await asyncio.gather(qa.aask(WHO), qa.chain.ainvoke(ASKED))
        ticker.cancel()
        return asked, ticked, streamed, chained, pieces, both

    asked, ticked, streamed, chained, pieces, both = asyncio.run(main())
    text = qa.ask(ASKED).text
    assert ticked >= 2
    assert asked.text == chained.text == streamed[-1].text == "".join(streamed[:-1]) == "".join(pieces) == text
    assert all(isinstance(p, str) for p in pieces + streamed[:-1]) and len(pieces) > 3
    assert both[0].text == qa.ask(WHO).text and both[1].text == text


def test_async_errors_come_through_and_a_stream_may_stop_early(seed_assistant):
    async def main():
        with pytest.raises(InstructionsError):
            await seed_assistant.aask(ASKED, instructions="Trả lời ngắn.")
        with pytest.raises(QuestionError):
            await seed_assistant.chain.ainvoke({"q": ASKED})
        async for first in seed_assistant.chain.astream(ASKED):
            break
        return first

    assert asyncio.run(main())


# -- the retriever -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def placed(tmp_path_factory, settings, encoder):
    """A PDF (pages) and a decree (sections, a title): documents with a place to cite."""
    from rag import Assistant

    corpus = tmp_path_factory.mktemp("placed") / "corpus"
    corpus.mkdir()
    shutil.copy(DATA / "vi_report.pdf", corpus)
    shutil.copy(DATA / "legal" / "nghi-dinh-12-2022-trich.txt", corpus)
    return Assistant.from_folder(corpus, settings=settings, index_dir=corpus.parent / "index", encoder=encoder)


def test_retriever_documents_carry_their_span_and_the_place_a_citation_shows(placed):
    seen = set()
    for question in ("Điều 12 Nghị định 12/2022/NĐ-CP quy định về vấn đề gì?", "Kế hoạch năm 2025", "Sách mới bổ sung"):
        for doc in placed.as_retriever(k=6).invoke(question):
            m = doc.metadata
            exact = placed.index.texts[m["source"]][m["start"]:m["end"]]
            assert doc.page_content.split() == exact.split()  # the chunk's text: the span, its lines joined
            c = cite(placed.index, 1, m["source"], m["start"], m["end"], m["score"])
            assert (m["page"], m["section"], m["document"]) == (c.page, c.section, c.document)
            assert {"score", "rank", "chunk_id"} <= set(m)
            seen.add("page" if m["page"] else "section" if m["section"] and m["document"] else "none")
    assert {"page", "section"} <= seen


def test_retriever_metadata_matches_the_citations_of_an_answer(placed):
    answer = placed.ask("Điều 12 Nghị định 12/2022/NĐ-CP quy định về vấn đề gì?")
    docs = placed.as_retriever().invoke("Điều 12 Nghị định 12/2022/NĐ-CP quy định về vấn đề gì?")
    c = answer.citations[0]
    doc = next(d for d in docs if d.metadata["source"] == c.source
               and d.metadata["start"] <= c.start < c.end <= d.metadata["end"])
    assert (doc.metadata["section"] or "").split(",")[0] == c.section.split(",")[0] == "Điều 12"
    assert doc.metadata["document"] == c.document and c.document
