"""The Gradio chat app: ask in Vietnamese, watch the answer stream, click a citation, read the source.

Only the library API is used (:class:`rag.Assistant` through :class:`ui.service.ChatService`).
One process loads the model and index once; every session shares them read-only.

Example::

    from ui import ChatService, launch
    launch(ChatService.from_folder("seeds"), host="127.0.0.1", port=7860)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from pathlib import Path
from types import NoneType, SimpleNamespace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag import __version__  # noqa: E402
from rag.assistant import history as history_of  # noqa: E402
from rag.errors import ViragError  # noqa: E402
from rag.ingest.documents import SUPPORTED_SUFFIXES  # noqa: E402
from rag.types import page_at  # noqa: E402

from . import render  # noqa: E402
from .api import ApiConfig, Server, build_api  # noqa: E402
from .assets import CSS, VIEWER_JS, example_questions  # noqa: E402
from .service import ChatService  # noqa: E402

TITLE = "virag — hỏi đáp tài liệu tiếng Việt, có trích dẫn"
PENDING = "Đang tìm trong tài liệu…"
VIEWER_EMPTY = "Bấm vào một trích dẫn [n] hoặc một nguồn để xem toàn văn tài liệu, đoạn được trích sẽ được tô sáng."
NEW_CONVERSATION = "Cuộc hội thoại mới"
STOP = "Dừng"
STOPPED = "Đã dừng."
STOPPED_EARLY = "Đã dừng trước khi có câu trả lời."
# The conversation kept in the browser (localStorage): its last turns only. Each turn is a few kB
# (an abstention also keeps its closest passages), the whole value is re-encrypted and rewritten
# after every answer, and localStorage holds about 5 MB per origin; a follow-up leans on recent turns.
STORED_TURNS = 20
STORAGE_KEY = "virag-conversation"
LOGIN_MESSAGE = ("Máy chủ này cần khoá truy cập: nhập khoá (VIRAG_API_KEY) vào ô mật khẩu, tên đăng nhập tuỳ ý. / "
                 "This server needs its key: enter it (VIRAG_API_KEY) as the password, with any user name.")


def _user_message(question: str) -> dict:
    return {"role": "user", "content": f'<div class="virag-question">{render.esc(question)}</div>'}


def _bot_message(html: str) -> dict:
    return {"role": "assistant", "content": html}


def _text_of(message) -> str:
    """A chat message's HTML, whether as sent (a string) or as the Chatbot hands it back (text parts)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _stopped(html: str) -> str | None:
    """The message an answer stopped while pending or streaming becomes; None for a finished one."""
    if 'class="virag-pending"' in html:
        return f'<div class="virag-stopped">{render.esc(STOPPED_EARLY)}</div>'
    if "virag-answer virag-streaming" in html:
        return (html.replace("virag-answer virag-streaming", "virag-answer virag-stopped", 1)
                + f'<div class="virag-meta virag-stopped-note">{render.esc(STOPPED)}</div>')
    return None


def _busy(answering: bool) -> tuple:
    """Send, Stop and New conversation while an answer streams (``True``) or not."""
    return (gr.update(visible=not answering), gr.update(visible=answering), gr.update(interactive=not answering))


# -- the conversation kept in the browser ------------------------------------------------------
# Only the fields the chat shows, each checked on the way back: the stored value comes from the
# browser, and a malformed turn is dropped rather than break the page.
_TURN = {"question": str, "answer": str, "abstained": bool, "confidence": (int, float), "answerer": (str, NoneType),
         "search_query": (str, NoneType), "short_answer": (dict, NoneType), "citations": list, "passages": list}
_CITATION = {"n": int, "source": str, "start": int, "end": int, "quote": str, "page": (int, NoneType),
             "section": (str, NoneType), "document": (str, NoneType)}
_PASSAGE = {"rank": int, "source": str, "start": int, "end": int, "text": str}
_SHORT = {"text": str, "source": str, "start": int, "end": int}


def _fields(item, spec: dict) -> dict:
    if not isinstance(item, dict):
        raise TypeError("not an object")
    kept = {k: item.get(k) for k in spec}
    bad = [k for k, kind in spec.items() if not isinstance(kept[k], kind)]
    if bad:
        raise TypeError(f"bad fields: {bad}")
    return kept


def _kept(answer: dict) -> dict:
    """One turn as stored: an answer's to_dict() without what the chat never shows (timings, scores; the
    passages of an answer with citations)."""
    turn = _fields(answer, _TURN)
    turn["citations"] = [_fields(c, _CITATION) for c in turn["citations"]]
    turn["passages"] = [] if turn["citations"] else [_fields(p, _PASSAGE) for p in turn["passages"]]
    if turn["short_answer"] is not None:
        turn["short_answer"] = _fields(turn["short_answer"], _SHORT)
    return turn


def _well_formed(turns) -> list[dict]:
    kept = []
    for turn in turns if isinstance(turns, list) else []:
        try:
            kept.append(_kept(turn))
        except TypeError:  # left out, rather than break the page or the answer
            continue
    return kept


def stored(turns: list) -> dict:
    """What the browser keeps of a conversation: its last :data:`STORED_TURNS` turns."""
    return {"turns": _well_formed((turns or [])[-STORED_TURNS:])}


def restored(saved) -> list[dict]:
    """The turns of a stored conversation (:func:`stored`); a malformed turn is left out."""
    return _well_formed(saved.get("turns") if isinstance(saved, dict) else None)[-STORED_TURNS:]


def storage_secret(service: ChatService, key: str | None = None) -> str:
    """The key the browser encrypts the stored conversation with: stable across restarts of a server
    over the same index (so a conversation survives them), derived from the server's API key when it
    has one (so the stored value is unreadable without it)."""
    where = str(service.index_dir or service.corpus or "")
    return hashlib.sha256(f"virag-conversation\0{key or ''}\0{where}".encode()).hexdigest()[:32]


class _Handlers:
    """The event handlers of one app, bound to one :class:`ChatService`."""

    def __init__(self, service: ChatService) -> None:
        self.service = service

    def respond(self, question: str, history: list, turns: list, top_k: float, answerer: str):
        """Stream one answer: yields (textbox, chat history, turns, sources panel, viewer, export button,
        send, stop, new conversation).

        The conversation so far (``turns``) goes to the library, so a follow-up is searched with what it
        refers to. While the answer streams, Send and New conversation give way to Stop; the sources panel
        and the viewer wait for the new answer, then follow it (its first citation, or nothing)."""
        question = (question or "").strip()
        history = list(history or [])
        turns = list(turns or [])
        skip = gr.skip()
        if not question:
            yield (skip,) * 9
            return
        turn = len(turns)
        history += [_user_message(question), _bot_message(f'<div class="virag-pending">{PENDING}</div>')]
        waiting = render.sources_html(None, 0), render.placeholder_html(VIEWER_EMPTY)
        yield "", history, skip, *waiting, skip, *_busy(True)
        try:
            answer = None
            for text, final in self.service.stream(question, top_k=int(top_k or 0) or None, answerer=answerer,
                                                   history=history_of(turns)):
                if final is not None:
                    answer = final.to_dict()
                    break
                partial = {"abstained": False, "citations": [], "answer": text}
                history[-1] = _bot_message(render.answer_html(partial, turn, partial_text=text))
                yield skip, history, *(skip,) * 7
        except (ViragError, ValueError) as exc:
            history[-1] = _bot_message(f'<div class="virag-error">{render.esc(str(exc))}</div>')
            yield skip, history, *(skip,) * 7
            return
        turns.append(answer)
        history[-1] = _bot_message(render.answer_html(answer, turn))
        yield (skip, history, turns, render.sources_html(answer, turn), self.newest(turns),
               gr.update(value=export(turns), interactive=True), *(skip,) * 3)

    def settle(self, history: list, turns: list):
        """After an answer (finished, failed or stopped): mark a stopped answer, bring Send back and keep
        the conversation in the browser.

        Returns (chat history, stored conversation, send, stop, new conversation)."""
        history = list(history or [])
        stopped = _stopped(_text_of(history[-1])) if history else None
        if stopped is not None:
            history[-1] = _bot_message(stopped)
        return (history if stopped is not None else gr.skip()), stored(turns), *_busy(False)

    def restore(self, saved, current: list):
        """The conversation kept in this browser, shown again in a new page without asking the model
        anything (a page that has turns already keeps them). Returns (chat history, turns, sources panel,
        viewer, export button)."""
        turns = [] if current else restored(saved)
        if not turns:
            return (gr.skip(),) * 5
        history = []
        for i, answer in enumerate(turns):
            history += [_user_message(answer["question"]), _bot_message(render.answer_html(answer, i))]
        return (history, turns, render.sources_html(turns[-1], len(turns) - 1), self.newest(turns),
                gr.update(value=export(turns), interactive=True))

    def newest(self, turns: list) -> str:
        """The viewer for the newest answer: its first citation, or the empty viewer (an abstention)."""
        citations = turns[-1].get("citations") if turns else None
        if not citations:
            return render.placeholder_html(VIEWER_EMPTY)
        return self.view(turns, len(turns) - 1, "c", citations[0]["n"])

    def show_source(self, turns: list, evt: gr.EventData) -> str:
        """The document viewer for a clicked citation or passage link."""
        data = getattr(evt, "_data", None) or {}
        parsed = render.parse_key(data.get("key", "") if isinstance(data, dict) else "")
        if parsed is None:
            return render.placeholder_html(VIEWER_EMPTY)
        return self.view(turns or [], *parsed)

    def view(self, turns: list, turn: int, kind: str, n: int) -> str:
        """The document viewer for citation ``n`` (kind ``c``) or passage rank ``n`` (kind ``p``) of a turn:
        the document, or the page of a PDF, with the span marked."""
        if turn >= len(turns):
            return render.placeholder_html(VIEWER_EMPTY)
        answer = turns[turn]
        if kind == "c":
            item = next((c for c in answer.get("citations", []) if c["n"] == n), None)
            label = f"Trích dẫn [{n}]"
            where = render.location(item) if item else ""
            label += f": {where}" if where else ""
        else:
            item = next((p for p in answer.get("passages", []) if p["rank"] == n), None)
            label = f"Đoạn gần nhất #{n}"
        if item is None:
            return render.placeholder_html(VIEWER_EMPTY)
        source, start, end = item["source"], item["start"], item["end"]
        text = self.service.document(source)
        if text is None:
            return render.placeholder_html(f"Tài liệu {source} không còn trong chỉ mục.")
        quote = item.get("quote")
        if quote is not None and text[start:end] != quote:
            found = text.find(quote)  # the document changed since the answer: find the quote again
            if found < 0:
                return render.placeholder_html(f"Tài liệu {source} đã thay đổi; đoạn trích dẫn không còn trong đó.")
            start, end = found, found + len(quote)
        key = render.cite_key(turn, kind, n)
        pages = self.service.pages(source)
        page = page_at(pages, start)
        if page is None:
            return render.document_html(source, text, start, end, key=key, note=f"{label} — ký tự {start}–{end}")
        # a PDF: the page (or pages) holding the span, as the reader would turn to it
        first = pages[page - 1]
        last_page = page_at(pages, max(start, end - 1)) or page
        stop = pages[last_page] if last_page < len(pages) else len(text)
        where = f"trang {page}" if last_page == page else f"trang {page}–{last_page}"
        scanned = " — văn bản nhận dạng bằng OCR từ ảnh quét" if page in self.service.ocr_pages(source) else ""
        return render.document_html(f"{source} — {where}", text[first:stop], start - first, end - first,
                                    note=f"{label} — {where}, ký tự {start}–{end}{scanned}", key=key)

    def upload(self, files, progress=gr.Progress()):
        """Add uploaded files to the corpus and re-index; returns (report, documents table, file menu, cleared files)."""
        paths = [str(f) for f in (files or [])]
        if not paths:
            return render.upload_report_html([], []), gr.skip(), gr.skip(), gr.skip()
        result = self.service.add_files(paths, progress=lambda f, d: progress(f, desc=d))
        table, menu = self.documents()
        return render.upload_report_html(result.added, result.rejected, result.summary), table, menu, None

    def documents(self, chosen: str | None = None):
        """The documents table and the menu of files that can be removed or re-indexed."""
        files, skipped = self.service.files()
        sources = sorted(f.source for f in files)
        return render.documents_table_html(files, skipped), gr.update(choices=sources, value=chosen)

    def ask_remove(self, source: str | None):
        """The confirmation row for removing ``source`` (nothing chosen: nothing to confirm)."""
        if not source:
            return gr.update(visible=False), ""
        note = f'<div class="virag-confirm-text">{render.esc(f"Xoá «{source}» khỏi kho tài liệu và chỉ mục?")}</div>'
        return gr.update(visible=True), note

    def _change(self, source: str | None, change, done: str, keep_chosen: bool):
        """Run ``change(source)`` on the knowledge base; returns (status, documents table, file menu)."""
        if not source:
            return render.upload_report_html([], [("—", "chọn một tệp trước.")]), gr.skip(), gr.skip()
        try:
            summary = change(source)
        except (ViragError, ValueError) as exc:
            return render.upload_report_html([], [(source, str(exc))]), gr.skip(), gr.skip()
        status = f'<div class="virag-ok">{render.esc(done)}</div><div class="virag-summary">{render.esc(summary)}</div>'
        return status, *self.documents(source if keep_chosen else None)

    def remove(self, source: str | None):
        """Remove the file (confirmed); returns (status, documents table, file menu, confirmation row)."""
        return *self._change(source, self.service.remove_file, f"Đã xoá {source}.", False), gr.update(visible=False)

    def reindex(self, source: str | None):
        """Read one file again; returns (status, documents table, file menu)."""
        return self._change(source, self.service.reindex_file, f"Đã lập chỉ mục lại {source}.", True)

    def ask(self, question: str, top_k: int = 0) -> dict:
        """API: answer one question; returns the answer, citations and passages as JSON."""
        try:
            return self.service.ask(question, top_k=top_k or None).to_dict()
        except (ViragError, ValueError) as exc:
            raise gr.Error(str(exc)) from None


def export(turns: list) -> str:
    """The conversation as a Markdown file for the download button."""
    folder = Path(tempfile.mkdtemp(prefix="virag-export-"))
    path = folder / "virag-hoi-thoai.md"
    path.write_text(render.conversation_markdown(turns), encoding="utf-8")
    return str(path)


def build_app(service: ChatService, *, key: str | None = None) -> gr.Blocks:
    """The Blocks app over ``service`` (not launched; see :func:`launch`); ``key``, the server's API key,
    only seasons the secret of the conversation kept in the browser (:func:`storage_secret`)."""
    h = _Handlers(service)
    with gr.Blocks(title="virag", analytics_enabled=False) as demo:
        turns = gr.State([])
        saved = gr.BrowserState(stored([]), storage_key=STORAGE_KEY, secret=storage_secret(service, key))
        gr.HTML(f"<h2>{render.esc(TITLE)}</h2>", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Hỏi đáp", id="chat"):
                chat = _chat_tab(service)
            with gr.Tab("Tài liệu", id="docs"):
                docs = _documents_tab(service)
        gr.HTML(f'<div class="virag-footer">virag {render.esc(__version__)}</div>', elem_id="virag-footer",
                js_on_load=None)
        _wire_chat(h, chat, turns, saved)
        _wire_documents(h, docs)
        demo.load(h.documents, outputs=[docs.table, docs.chosen], api_visibility="private")
        gr.api(h.ask, api_name="ask")
    return demo


def _chat_tab(service: ChatService) -> SimpleNamespace:
    """The conversation, the question box, the settings, the sources panel and the document viewer."""
    qa = service.assistant
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Hội thoại", elem_id="virag-chat", render_markdown=False, sanitize_html=True,
                height=480, buttons=["copy"], feedback_options=None,
                placeholder=f"{len(qa.index.manifest.files)} tài liệu sẵn sàng. Hãy đặt câu hỏi bằng tiếng Việt.",
            )
            with gr.Row():
                question = gr.Textbox(placeholder="Đặt câu hỏi về tài liệu…", show_label=False,
                                      elem_id="virag-question", scale=5, lines=1, max_lines=4)
                send = gr.Button("Gửi", variant="primary", elem_id="virag-send", scale=1, min_width=80)
                stop = gr.Button(STOP, variant="stop", elem_id="virag-stop", scale=1, min_width=80, visible=False)
            with gr.Row():
                restart = gr.Button(NEW_CONVERSATION, elem_id="virag-new", size="sm")
                download = gr.DownloadButton("Tải hội thoại (Markdown)", value=None, size="sm",
                                             elem_id="virag-export", interactive=False)
            examples = example_questions(qa.index.texts)
            if examples:
                gr.Examples([[q] for q in examples], inputs=[question], label="Câu hỏi mẫu")
            with gr.Accordion("Cài đặt", open=False):
                top_k = gr.Slider(1, 20, value=service.settings.retrieval.top_k, step=1,
                                  label="Số đoạn truy xuất (top-k)", elem_id="virag-topk")
                answerer = gr.Dropdown([(label, name) for name, label in qa.answerers().items()],
                                       value=qa.default_answerer, label="Cách trả lời", elem_id="virag-answerer")
        with gr.Column(scale=2):
            sources = gr.HTML(render.sources_html(None, 0), elem_id="virag-sources", js_on_load=None)
            viewer = gr.HTML(render.placeholder_html(VIEWER_EMPTY), elem_id="virag-viewer", js_on_load=VIEWER_JS)
    return SimpleNamespace(chatbot=chatbot, question=question, send=send, stop=stop, restart=restart,
                           download=download, top_k=top_k, answerer=answerer, sources=sources, viewer=viewer)


def _documents_tab(service: ChatService) -> SimpleNamespace:
    """Uploading, the file menu with re-index and remove (confirmed), and the table of documents."""
    can = service.can_upload
    gr.Markdown(
        f"Tải lên tệp {', '.join(SUPPORTED_SUFFIXES)}, tối đa {service.limits.max_files} tệp "
        f"mỗi lần, mỗi tệp ≤ {service.limits.max_mb:g} MB. Tệp được thêm vào kho tài liệu và "
        "lập chỉ mục ngay." if can else service.locked
    )
    files = gr.File(label="Chọn tệp", file_count="multiple", type="filepath", elem_id="virag-upload", interactive=can)
    upload = gr.Button("Thêm vào kho và lập chỉ mục", variant="primary", elem_id="virag-upload-btn", interactive=can)
    status = gr.HTML("", elem_id="virag-upload-status", js_on_load=None)
    with gr.Row():
        chosen = gr.Dropdown([], value=None, label="Tệp", elem_id="virag-file", scale=3, interactive=can)
        reindex = gr.Button("Lập chỉ mục lại", elem_id="virag-reindex", scale=1, interactive=can)
        remove = gr.Button("Xoá tệp…", variant="stop", elem_id="virag-remove", scale=1, interactive=can)
    with gr.Row(visible=False, elem_id="virag-confirm") as confirm_row:
        confirm_text = gr.HTML("", js_on_load=None)
        confirm = gr.Button("Xoá hẳn", variant="stop", elem_id="virag-confirm-remove")
        cancel = gr.Button("Huỷ", elem_id="virag-cancel-remove")
    table = gr.HTML(render.documents_table_html(service.files()[0]), elem_id="virag-docs", js_on_load=None)
    return SimpleNamespace(files=files, upload=upload, status=status, chosen=chosen, reindex=reindex, remove=remove,
                           confirm_row=confirm_row, confirm_text=confirm_text, confirm=confirm, cancel=cancel,
                           table=table)


def _wire_chat(h: _Handlers, c: SimpleNamespace, turns: gr.State, saved: gr.BrowserState) -> None:
    private = dict(api_visibility="private")
    # one event for Enter and Send, so a second question cannot start while one streams
    answering = gr.on([c.question.submit, c.send.click], h.respond,
                      inputs=[c.question, c.chatbot, turns, c.top_k, c.answerer],
                      outputs=[c.question, c.chatbot, turns, c.sources, c.viewer, c.download, c.send, c.stop,
                               c.restart], **private)
    # runs when the answer ends, and when Stop cancels it (Gradio completes a cancelled event)
    answering.then(h.settle, inputs=[c.chatbot, turns], outputs=[c.chatbot, saved, c.send, c.stop, c.restart],
                   **private)
    c.stop.click(None, cancels=[answering], **private)
    c.viewer.cite(h.show_source, inputs=[turns], outputs=[c.viewer], **private)
    # The browser reads its stored conversation once the page is up and reports it as a change (a load
    # event can run before that); a change this session wrote itself finds its turns already there.
    # Outside the queue: queued, it fired as settle stored an answer and could make the browser drop
    # the next question's answer (a question asked right then was answered, never shown; Gradio 6.31).
    saved.change(h.restore, inputs=[saved, turns], outputs=[c.chatbot, turns, c.sources, c.viewer, c.download],
                 queue=False, **private)
    # New conversation and the Chatbot's own Clear button are both off while an answer streams (the
    # CSS hides Clear then), so the end of that answer never writes over a cleared chat.
    forget = (lambda: ([], [], stored([]), render.sources_html(None, 0), render.placeholder_html(VIEWER_EMPTY),
                       gr.update(value=None, interactive=False)))
    cleared = [c.chatbot, turns, saved, c.sources, c.viewer, c.download]
    c.chatbot.clear(forget, outputs=cleared, **private)
    c.restart.click(forget, outputs=cleared, **private)


def _wire_documents(h: _Handlers, d: SimpleNamespace) -> None:
    private = dict(api_visibility="private")
    d.upload.click(h.upload, inputs=[d.files], outputs=[d.status, d.table, d.chosen, d.files],
                   concurrency_limit=1, **private)
    d.remove.click(h.ask_remove, inputs=[d.chosen], outputs=[d.confirm_row, d.confirm_text], **private)
    d.cancel.click(lambda: gr.update(visible=False), outputs=[d.confirm_row], **private)
    d.confirm.click(h.remove, inputs=[d.chosen], outputs=[d.status, d.table, d.chosen, d.confirm_row],
                    concurrency_limit=1, **private)
    d.reindex.click(h.reindex, inputs=[d.chosen], outputs=[d.status, d.table, d.chosen], concurrency_limit=1,
                    **private)


def _login(config: ApiConfig) -> dict:
    """With a key, the chat asks for it once (Gradio's login: the key as the password, any user name), and
    Gradio's own routes (its API, uploads, the queue) refuse calls without the session it opens, like /v1."""
    if config.token is None:
        return {}
    key = config.token.encode()
    return {"auth": lambda _user, password: hmac.compare_digest(str(password).encode(), key),
            "auth_message": LOGIN_MESSAGE}


def launch(service: ChatService, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           quiet: bool = False, concurrency: int = 4, api: ApiConfig | None = None) -> Server:
    """Serve the chat at ``/`` and the HTTP API (:mod:`ui.api`) beside it: one process, one model and index.

    No browser is opened, nothing is shared. With ``block=False`` the server runs in a background
    thread; stop it with ``server.close()``.
    """
    config = api or ApiConfig.from_env(service.settings.serving)
    demo = build_app(service, key=config.token)
    demo.queue(default_concurrency_limit=concurrency, max_size=256)
    app = gr.mount_gradio_app(build_api(service, config), demo, path="/", server_name=host, server_port=port,
                              show_error=True, ssr_mode=False, css=CSS,
                              max_file_size=int(service.limits.max_mb * 1e6) + 1, **_login(config))
    server = Server(app, host, port, quiet=quiet, grace=service.settings.serving.shutdown_seconds)
    return server.start(block=block)
