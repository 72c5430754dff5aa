"""The question is analysed once, at the front: NFC first, then everything later stages read."""

import unicodedata

import pytest

from rag import Answer, Assistant
from rag.search.query import analyse
from rag.answer.cite import cite, pieces, stream_answer
from rag.answer.lists import enumerates, items
from rag.errors import QuestionError
from rag.vietnamese import has_diacritics

QUESTION = "Ai chủ trì hội nghị giao ban công tác xây dựng Đảng 6 tháng đầu năm 2021 khu vực miền Bắc?"


def test_a_decomposed_question_is_read_as_the_composed_one():
    short = unicodedata.normalize("NFD", "Ai chủ trì hội nghị?")
    assert not has_diacritics(short)  # what the old code saw: "no diacritics"
    assert not analyse(short).folded
    nfd = unicodedata.normalize("NFD", QUESTION)
    q, d = analyse(QUESTION), analyse(nfd)
    assert d == q and not d.folded and d.text == QUESTION


def test_nfc_and_nfd_get_identical_retrieval_and_answers(seed_assistant):
    nfc = seed_assistant.ask(QUESTION)
    nfd = seed_assistant.ask(unicodedata.normalize("NFD", QUESTION))
    assert [(p.chunk_id, p.score) for p in nfd.passages] == [(p.chunk_id, p.score) for p in nfc.passages]
    assert nfd.text == nfc.text and nfd.citations == nfc.citations and not nfd.abstained
    assert "Trương Thị Mai" in nfd.text


def test_a_question_without_diacritics_is_restored_for_the_dense_side(seed_assistant):
    q = seed_assistant.retriever.analyse("cum thi dua so 2 gom nhung tinh nao")
    assert q.folded and q.dense_text.startswith("cụm thi đua số 2")
    assert q.terms == ("cum", "dua", "so", "2", "gom", "tinh")  # 'thi' folds like the stopword 'thì'


@pytest.mark.parametrize(("text", "kind"), [
    ("Có bao nhiêu đại biểu dự hội nghị?", "number"),
    ("Hội nghị diễn ra vào ngày nào?", "date"),
    ("Ai chủ trì hội nghị?", "name"),
    ("Vì sao hội nghị được tổ chức trực tuyến?", "why"),
    ("Cụm thi đua số 2 gồm những tỉnh nào?", "list"),
    ("Hội nghị đánh giá công tác như thế nào?", "how"),
])
def test_the_kind_of_answer_asked_for(text, kind):
    assert analyse(text).kind == kind


def test_cleaning_limits_and_errors():
    assert analyse("  Ai\n chủ   trì? ").text == "Ai chủ trì?"
    assert len(analyse("Ai " * 100, max_chars=50).text) == 50
    for bad in ("   ", None):
        with pytest.raises(QuestionError):
            analyse(bad)


def test_pieces_join_back_and_keep_markers_whole():
    text = "Một hai ba bốn năm sáu bảy [1]"
    parts = pieces(text, words=3)
    assert "".join(parts) == text and len(parts) == 3 and parts[-1].endswith("[1]")
    assert pieces("", 3) == [""]


def test_a_new_answerer_plugs_in_without_touching_the_chain(seed_assistant):
    """Anything with run/stream (the Answerer protocol) answers through ask and stream alike."""

    class FirstPassage:
        name = "first-passage"

        def run(self, retrieval):
            p = retrieval.passages[0].chunk
            c = cite(seed_assistant.index, 1, p.source, p.start, p.end, 1.0)
            return Answer(question=retrieval.query.text, text=f"{c.quote} [1]", citations=[c], abstained=False,
                          passages=retrieval.passages, answerer=self.name)

        def stream(self, retrieval):
            yield from stream_answer(self.run(retrieval))

    qa = Assistant(seed_assistant.index, settings=seed_assistant.settings, encoder=seed_assistant.encoder,
                   answerer=FirstPassage())
    asked = qa.ask("Cụm thi đua số 2 gồm những tỉnh nào?")
    streamed = list(qa.stream("Cụm thi đua số 2 gồm những tỉnh nào?"))
    assert asked.answerer == "first-passage" and streamed[-1].text == asked.text
    assert "".join(streamed[:-1]) == asked.text
    c = asked.citations[0]
    assert seed_assistant.index.texts[c.source][c.start:c.end] == c.quote


@pytest.mark.parametrize(("question", "noun"), [
    ("Cụm thi đua số 2 gồm những tỉnh nào?", "tỉnh"),
    ("cum thi dua so 2 gom nhung tinh nao", "tinh"),
    ("Ăn chay có truyền thống lâu đời trong các tôn giáo nào?", "tôn giáo"),
    ("Ai chủ trì hội nghị?", None),
])
def test_a_list_question_names_what_it_lists(question, noun):
    assert analyse(question).listed == noun


def test_an_enumeration_is_a_run_of_short_items():
    assert items("Cụm số 2 gồm: Lạng Sơn, Quảng Ninh, Hải Phòng, Bắc Giang.") == 5
    # the short clauses of ordinary prose are not named members
    prose = "Sử dụng quyền hạn của mình, chính phủ có thể bắt đầu, như Đạo luật Y tế; các tỉnh có thể chọn, song hiếm khi làm vậy."
    assert enumerates(prose) and items(prose, names=True) == 1
    # one long clause between short ones breaks the run
    assert not enumerates("Sáng 23/11, Phó Bí thư Thường trực Tỉnh ủy, Trưởng đoàn ĐBQH tỉnh Đặng Ngọc Huy đã dự "
                          "hội nghị tổng kết công tác thi đua Cụm thi đua số III - Ban Tổ chức các Tỉnh ủy, Thành ủy "
                          "khu vực miền Trung – Tây nguyên năm 2022.")
