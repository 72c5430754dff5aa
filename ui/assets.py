"""Static pieces of the chat page: its CSS, the citation-click script and the seed example questions."""

from __future__ import annotations

from collections.abc import Iterable

# (question, the seed document that answers it): shown when that document is in the index.
SEED_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Cụm thi đua số 2 gồm những tỉnh nào?", "004_67d702c3fe2dbdbb.txt"),
    ("Ai chủ trì hội nghị giao ban công tác xây dựng Đảng 6 tháng đầu năm 2021 khu vực miền Bắc?",
     "001_7d2fc00ee8fcd6c5.txt"),
    ("Hội nghị toàn quốc tổng kết công tác tổ chức xây dựng Đảng năm 2022 diễn ra vào ngày nào?",
     "002_f2420c0540b3194a.txt"),
    ("Ai phát biểu chào mừng hội nghị tổng kết công tác thi đua Cụm thi đua số III?", "003_5072486995dc572e.txt"),
    ("Những ai dự hội nghị tại điểm cầu Thừa Thiên Huế?", "000_235558df8fbeb811.txt"),
)


def example_questions(sources: Iterable[str]) -> list[str]:
    """The seed example questions whose document is among ``sources``."""
    have = set(sources)
    return [q for q, src in SEED_EXAMPLES if src in have]


CSS = """
.virag-answer { line-height: 1.55; }
.virag-streaming::after { content: " ▍"; opacity: .6; }
a.virag-cite { font-weight: 600; text-decoration: none; color: var(--color-accent, #2563eb);
  cursor: pointer; padding: 0 1px; }
a.virag-cite:hover { text-decoration: underline; }
.virag-abstain { border-left: 4px solid #d97706; background: rgba(217, 119, 6, .10); padding: 8px 12px;
  border-radius: 6px; }
.virag-abstain strong { display: block; margin-bottom: 4px; }
.virag-closest { margin-top: 6px; font-size: .92em; }
.virag-closest a.virag-cite { display: inline-block; margin-right: 8px; }
.virag-sources h4 { margin: 0 0 6px 0; }
.virag-sources ol { padding-left: 1.2em; margin: 0; }
.virag-sources li { margin-bottom: 8px; }
.virag-snippet { font-size: .9em; opacity: .85; }
.virag-doc { border: 1px solid var(--border-color-primary, #ddd); border-radius: 8px; padding: 8px 10px; }
.virag-doc-title { font-weight: 600; margin-bottom: 4px; }
.virag-doc-note { font-size: .88em; opacity: .8; margin-bottom: 6px; }
.virag-doc-body { white-space: pre-wrap; max-height: 55vh; overflow-y: auto; line-height: 1.5; }
mark.virag-mark { background: #fde047; color: inherit; padding: 1px 0; border-radius: 2px; }
.virag-empty { opacity: .7; }
.virag-error { color: #b91c1c; margin: 2px 0; }
.virag-ok { color: #15803d; margin: 2px 0; }
.virag-meta { font-size: .8em; opacity: .75; margin-top: 4px; }
.virag-confidence { font-weight: 600; }
.virag-sure { color: #15803d; }
.virag-check { color: #b45309; }
mark.virag-short-mark { background: #bbf7d0; color: inherit; font-weight: 600; padding: 0 1px; border-radius: 2px; }
.virag-skipped h4 { margin: 10px 0 4px 0; }
.virag-files { border-collapse: collapse; }
.virag-files td, .virag-files th { padding: 2px 12px 2px 0; text-align: left; }
#virag-chat:has(.virag-pending, .virag-streaming) .top-panel { display: none; }  /* no Clear while answering */
.virag-stopped { opacity: .75; font-style: italic; }
.virag-stopped-note { font-style: italic; }
.virag-footer { text-align: center; font-size: .8em; opacity: .6; }
"""

# js_on_load of the document viewer (a gr.HTML): one capture-phase click listener for every
# ``a.virag-cite`` on the page (chat messages and sources panel) fires the viewer's custom
# "cite" event with the link's key (or, when the viewer already shows that key, scrolls to it).
# After each new document the <mark> is centred in the viewer's own scroll box; only a document
# the reader clicked for also scrolls the page to it, so a viewer that follows a new answer never
# moves the page away from the chat.
VIEWER_JS = """
window.viragCite = (key) => {
  const at = '#virag-viewer .virag-doc[data-key="' + CSS.escape(key) + '"] mark.virag-mark';
  const shown = document.querySelector(at);
  if (shown) { shown.scrollIntoView({block: 'center', inline: 'nearest'}); return; }  // already in the viewer
  window.viragClicked = true;
  trigger('cite', {key: key});
};
if (!window.viragCiteBound) {
  window.viragCiteBound = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ? ev.target.closest('a.virag-cite') : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    window.viragCite((a.getAttribute('href') || '').replace(/^#/, ''));
  }, true);
}
watch('value', () => {
  const clicked = window.viragClicked;
  window.viragClicked = false;
  const mark = element.querySelector('mark.virag-mark');
  if (!mark) return;
  const box = mark.closest('.virag-doc-body');
  if (box) {
    const m = mark.getBoundingClientRect(), b = box.getBoundingClientRect();
    box.scrollTop += m.top - b.top - (box.clientHeight - m.height) / 2;
  }
  if (clicked) mark.scrollIntoView({block: 'center', inline: 'nearest'});
});
"""
