import pytest

from rag.vietnamese import canonical_tones, fold, has_diacritics, is_syllable, looks_vietnamese, match_key, syllables


@pytest.mark.parametrize(
    ("old", "new"),
    [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("Hòa Bình", "Hoà Bình"), ("hoàng", "hoàng"),
     ("người", "người"), ("mùa", "mùa"), ("quả", "quả"), ("giá", "giá"), ("tuổi", "tuổi"), ("hoài", "hoài")],
)
def test_canonical_tones_puts_the_mark_on_one_vowel(old, new):
    assert canonical_tones(old) == canonical_tones(new) == new


def test_canonical_tones_keeps_length():
    text = "Thanh Hóa, Thủy lợi, khỏe mạnh, hòa bình 2024."
    assert len(canonical_tones(text)) == len(text)


def test_fold_strips_all_marks_and_keeps_length():
    assert fold("Đà Nẵng, Thừa Thiên Huế") == "Da Nang, Thua Thien Hue"
    assert len(fold("Cụm thi đua số 2")) == len("Cụm thi đua số 2")


def test_has_diacritics():
    assert has_diacritics("Hà Nội")
    assert not has_diacritics("ha noi 2024?")


def test_match_key_ignores_case_spacing_and_tone_placement():
    assert match_key("  Thanh  HÓA ") == match_key("thanh hoá")


def test_syllables_lowercase_and_folded():
    assert syllables("Cụm thi đua số 2, Hà Tĩnh!") == ["cụm", "thi", "đua", "số", "2", "hà", "tĩnh"]
    assert syllables("Cụm thi đua", folded=True) == ["cum", "thi", "dua"]


@pytest.mark.parametrize("word", ["nghiêng", "khuyết", "ngoẵt", "tr", "khong", "quyen", "gi", "oanh", "the"])
def test_is_syllable_accepts_vietnamese_shapes(word):
    assert is_syllable(word) == (word != "tr")


@pytest.mark.parametrize("word", ["conference", "who", "many", "did", "street", "hold"])
def test_is_syllable_rejects_english_words(word):
    assert not is_syllable(word)


@pytest.mark.parametrize("question, expected", [
    ("Ai chủ trì hội nghị giao ban?", True),
    ("ai chu tri hoi nghi giao ban?", True),
    ("Gaston Jeze la ai?", True),  # names are left out
    ("Bao nhiêu ĐBQH dự hội nghị COVID-19?", True),
    ("Who chaired the conference?", False),
    ("How many bridge points did the conference connect?", False),
    ("Ai?", True),  # too short to tell
])
def test_looks_vietnamese(question, expected):
    assert looks_vietnamese(question) is expected
