"""Character error rate of the OCR of scanned Vietnamese pages (not a test).

    python -m benchmarks.ocr_cer [--dpi 150] [-o bench_out/ocr_cer.json]

Pages are rendered to images from known text (the legal excerpts in tests/data/legal and the
seeds, diacritics and all), saved as an image-only PDF (a scan), read back through virag's PDF
reader (which OCRs pages without a text layer) and compared with the text they were rendered
from: CER = Levenshtein distance / reference length, whitespace collapsed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ROOT = Path(__file__).resolve().parents[1]


def render_scan(paragraphs: list[str], path: Path, *, dpi: int = 150, font_px: int | None = None) -> list[str]:
    """An image-only PDF of ``paragraphs`` drawn in black on white, wrapped and flowed onto A4 pages at
    ``dpi``; returns the text drawn on each page (a paragraph that does not fit starts a new page, and so
    does a paragraph ``"\\f"``)."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    margin = int(0.8 * dpi)
    font = ImageFont.truetype(FONT, font_px or int(dpi * 0.16))
    line_gap = int(font.size * 1.5)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def wrap(paragraph: str) -> list[str]:
        lines, line = [], ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if measure.textlength(trial, font=font) > width - 2 * margin and line:
                lines.append(line)
                line = word
            else:
                line = trial
        return [*lines, line] if line else lines

    pages: list[list[list[str]]] = [[]]
    y = margin
    for paragraph in paragraphs:
        lines = wrap(paragraph)
        needed = len(lines) * line_gap
        if paragraph == "\f" or (y + needed > height - margin and pages[-1]):
            pages.append([])
            y = margin
            if paragraph == "\f":
                continue
        pages[-1].append(lines)
        y += needed + line_gap // 2
    images = []
    for page in pages:
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        y = margin
        for lines in page:
            for line in lines:
                draw.text((margin, y), line, font=font, fill=0)
                y += line_gap
            y += line_gap // 2
        images.append(image)
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return ["\n".join(" ".join(lines) for lines in page) for page in pages]


def cer(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over the reference's length, whitespace collapsed."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    return Levenshtein.distance(ref, hyp) / max(1, len(ref))


def sample_paragraphs(per_file: int = 8) -> list[str]:
    """Known Vietnamese text: paragraphs of the legal excerpts and of the first seeds (no web addresses:
    a word wider than the page would be drawn off it)."""
    paragraphs = []
    for path in sorted((ROOT / "tests/data/legal").glob("*.txt")) + sorted((ROOT / "seeds").glob("*.txt"))[:4]:
        text = path.read_text(encoding="utf-8")
        paragraphs += [" ".join(p.split()) for p in text.split("\n")
                       if 60 <= len(p.strip()) <= 400 and "http" not in p][:per_file]
    return paragraphs


def main(argv: list[str] | None = None) -> int:
    from rag.ingest.formats.pdf import PAGE_SEPARATOR, read_pdf

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dpi", type=int, default=150, help="resolution the pages are rendered (scanned) at")
    p.add_argument("-o", "--out", default="bench_out/ocr_cer.json")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scan = out.with_suffix(".pdf")
    pages = render_scan(sample_paragraphs(), scan, dpi=args.dpi)
    started = time.perf_counter()
    text, starts, ocr_pages = read_pdf(scan.read_bytes(), scan.name)
    seconds = time.perf_counter() - started
    read = text.split(PAGE_SEPARATOR)
    per_page = [round(cer(ref, hyp), 4) for ref, hyp in zip(pages, read)]
    whole = cer("\n".join(pages), "\n".join(read))
    result = {"pages": len(pages), "ocr_pages": len(ocr_pages), "dpi": args.dpi, "cer": round(whole, 4),
              "cer_per_page": per_page, "seconds_per_page": round(seconds / len(pages), 2),
              "characters": sum(len(p) for p in pages)}
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"{len(pages)} pages scanned at {args.dpi} dpi, OCR {result['seconds_per_page']} s/page: "
          f"CER {whole:.4f} (per page {min(per_page):.4f}–{max(per_page):.4f}); wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
