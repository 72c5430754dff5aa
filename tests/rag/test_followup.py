import pytest

from rag.search.followup import condense, is_followup


@pytest.mark.parametrize("q", ["Còn cụm số III thì sao?", "con cum so III thi sao", "Ai chủ trì hội nghị đó?", "Thế còn năm 2023?"])
def test_followups_are_recognised(q):
    assert is_followup(q)


def test_a_standalone_question_is_not_a_followup():
    assert not is_followup("Cụm thi đua số 2 gồm những tỉnh, thành phố nào?")


def test_condense_asks_the_same_question_of_the_new_specifics():
    assert condense("Còn cụm số III thì sao?", ["Cụm thi đua số 2 gồm những tỉnh nào?"]) == \
        "Cụm thi đua số III gồm những tỉnh nào?"
    assert condense("Thế còn năm 2023?", ["Năm 2022 có bao nhiêu đại biểu dự?"]) == "Năm 2023 có bao nhiêu đại biểu dự?"


def test_condense_keeps_what_a_follow_up_adds():
    out = condense("Còn ai chủ trì ở cụm III?", ["Cụm thi đua số 2 gồm những tỉnh nào?"])
    assert "III" in out and " 2 " not in f" {out} " and "chủ trì" in out and "gồm những tỉnh" in out


def test_conversation_carries_context(seed_assistant):
    conv = seed_assistant.conversation()
    conv.ask("Ai phát biểu chào mừng hội nghị tổng kết công tác thi đua Cụm thi đua số III?")
    a = conv.ask("Còn ai trình bày báo cáo tại hội nghị đó?")
    assert "Cụm thi đua số III" in a.search_query
    assert a.passages[0].chunk.source == "003_5072486995dc572e.txt"


def test_chat_messages(seed_assistant):
    a = seed_assistant.chat([
        {"role": "user", "content": "Cụm thi đua số 2 gồm những tỉnh nào?"},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": "Còn cụm số III thì sao?"},
    ])
    assert a.question == "Còn cụm số III thì sao?" and "III" in a.search_query
    assert any(p.chunk.source == "003_5072486995dc572e.txt" for p in a.passages[:2])
