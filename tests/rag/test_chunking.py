from tokenizers import Tokenizer

from rag.ingest.chunking import Chunker, split_sentences
from rag.types import Document
from tests.conftest import SEEDS


def _doc(text: str) -> Document:
    return Document(source="doc.txt", text=text, sha256="x")


def test_split_sentences_keeps_abbreviations_and_spans():
    text = "Ông A đến TP. Hồ Chí Minh ngày 5/6. Hội nghị bắt đầu lúc 8 giờ! Kết thúc."
    spans = split_sentences(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == [
        "Ông A đến TP. Hồ Chí Minh ngày 5/6.", "Hội nghị bắt đầu lúc 8 giờ!", "Kết thúc.",
    ]


def test_split_sentences_at_spaced_quotes_and_after_one_letter_words():
    text = ('Ông nói " chúng ta sẽ thắng. " Hai ngày sau, George H. W. Bush ký. '
            "Nhiều xã ở ngoại ô. Các xã gần người Ý. Họ đi.")
    assert [text[s:e] for s, e in split_sentences(text, 0, len(text))] == [
        'Ông nói " chúng ta sẽ thắng. "', "Hai ngày sau, George H. W. Bush ký.",
        "Nhiều xã ở ngoại ô.", "Các xã gần người Ý.", "Họ đi.",
    ]


def test_heading_joins_its_paragraph_and_repeats_are_dropped():
    para = "Sáng 23/11, hội nghị tổng kết công tác thi đua được tổ chức tại tỉnh với sự tham dự của nhiều đại biểu."
    text = f"Toàn cảnh hội nghị. |\n{para}\nToàn cảnh hội nghị. |\n{para.replace('Sáng', 'Chiều')}"
    chunker = Chunker(lambda t: len(t.split()), max_tokens=1000)
    blocks = chunker.blocks(_doc(text))
    assert len(blocks) == 2
    assert text[slice(*blocks[0][0])] == "Toàn cảnh hội nghị. |"
    assert all(text[slice(*s)] != "Toàn cảnh hội nghị. |" for s in blocks[1])


def test_chunks_respect_the_token_budget_with_the_real_tokenizer(encoder):
    text = (SEEDS / "003_5072486995dc572e.txt").read_text(encoding="utf-8")
    overhead = encoder.prompt_overhead("passage: ")
    chunker = Chunker(encoder.count_tokens, max_tokens=128, overhead=overhead, overlap_sentences=1)
    chunks = chunker.run(_doc(text))
    tokenizer = encoder.model.tokenizer  # the model's own, untruncated
    assert len(chunks) > 5
    for c in chunks:
        assert len(tokenizer.encode("passage: " + c.text).ids) <= 128
        for s, e in c.sentences:
            assert text[s:e] in c.text and text[s:e].strip() == text[s:e]
        assert c.start == c.sentences[0][0] and c.end == c.sentences[-1][1]


def test_overlong_sentence_is_split_between_words():
    text = " ".join(f"từ{i}" for i in range(300)) + "."
    chunks = Chunker(lambda t: len(t.split()), max_tokens=50).run(_doc(text))
    assert len(chunks) >= 6
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_text_without_capitals_still_splits_into_sentences():
    """Lower-cased exports and some OCR output have no capitals to start sentences."""
    text = ("Sáng 23/11, Ban Tổ chức Tỉnh ủy tổ chức hội nghị tổng kết công tác thi đua năm 2023. "
            "Cụm thi đua số 2 gồm 14 tỉnh: Lạng Sơn, Quảng Ninh, Hải Phòng, Bắc Giang và Bắc Ninh. "
            "Hội nghị đã bầu tỉnh Quảng Ninh làm cụm trưởng năm 2024. Đồng chí Nguyễn Văn Thủy chủ trì hội nghị.")
    cased = split_sentences(text, 0, len(text))
    for variant in (text.lower(), text.upper()):
        spans = split_sentences(variant, 0, len(variant))
        assert spans == cased and len(spans) == 4, variant[:40]
