from evals.matching import answer_matches, citation_supported, evidence_hit, evidence_spans

DOC = ("Hội nghị diễn ra tại 28 điểm cầu. Đồng chí Trương Thị Mai chủ trì hội nghị. "
       "Tỉnh Khánh Hoà đăng cai năm sau.")
EVIDENCE = ["Đồng chí Trương Thị Mai chủ trì hội nghị"]
START = DOC.index("Đồng chí")


def test_answer_matches_rules():
    assert answer_matches("… Trương Thị Mai chủ trì. [1]", ["trương thị mai"], "any")
    assert not answer_matches("…", ["Trương Thị Mai"], "any")
    assert not answer_matches("Lạng Sơn [1]", ["Lạng Sơn", "Hà Tĩnh"], "all")
    assert not answer_matches("Tài liệu không có thông tin", [], "none")


def test_evidence_spans_ignore_case_and_tone_placement():
    assert evidence_spans(DOC, EVIDENCE) == [(START, START + len(EVIDENCE[0]))]
    pos = DOC.index("Khánh Hoà")
    assert evidence_spans(DOC, ["khánh hòa"]) == [(pos, pos + len("khánh hòa"))]
    assert evidence_spans(DOC, ["", "  ", "không có"]) == []


def test_evidence_hit_by_containment_or_half_overlap():
    end = START + len(EVIDENCE[0])
    half = START + len(EVIDENCE[0]) // 2
    assert evidence_hit(DOC[START:end], "a.txt", START, end, EVIDENCE, ["a.txt"], DOC)
    assert evidence_hit(DOC[:half], "a.txt", 0, half, EVIDENCE, ["a.txt"], DOC)          # half of it
    assert not evidence_hit(DOC[:half - 2], "a.txt", 0, half - 2, EVIDENCE, ["a.txt"], DOC)
    assert not evidence_hit(DOC, "b.txt", 0, len(DOC), EVIDENCE, ["a.txt"], DOC)         # wrong document


def test_citation_supported_needs_a_gold_document():
    quote = DOC[START:]
    assert citation_supported(quote, "a.txt", START, len(DOC), ["a.txt"], EVIDENCE, ["Trương Thị Mai"], DOC)
    assert not citation_supported(quote, "b.txt", START, len(DOC), ["a.txt"], EVIDENCE, ["Trương Thị Mai"], DOC)
    assert not citation_supported(quote, "a.txt", START, len(DOC), [], [], [], DOC)      # unanswerable


def test_citation_supported_by_any_overlap_or_a_gold_answer():
    # "Hội nghị diễn ra tại 28 điểm cầu. Đ" overlaps the evidence by one character
    first = DOC[: START + 1]
    assert citation_supported(first, "a.txt", 0, START + 1, ["a.txt"], EVIDENCE, ["Trương Thị Mai"], DOC)
    assert not citation_supported(first[:-1], "a.txt", 0, START, ["a.txt"], EVIDENCE, ["Trương Thị Mai"], DOC)
    # no overlap, but the quote holds a gold answer
    assert citation_supported(DOC[:START], "a.txt", 0, START, ["a.txt"], EVIDENCE, ["28"], DOC)
    tail = DOC.index("Tỉnh Khánh")
    assert not citation_supported(DOC[tail:], "a.txt", tail, len(DOC), ["a.txt"], EVIDENCE, ["28"], DOC)


def test_an_answer_is_matched_as_shown_without_its_bold_markers():
    """The reader's short answer leads in bold; a gold answer running past it still counts."""
    answer = "**Đồng chí Trương Thị Mai**, Ủy viên Bộ Chính trị, chủ trì hội nghị. [1]"
    assert answer_matches(answer, ["Trương Thị Mai, Ủy viên Bộ Chính trị"], "any")
    assert not answer_matches(answer, ["Nguyễn Quang Dương"], "any")
