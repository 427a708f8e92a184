"""Ingestion pieces on real text and real PDFs: cleaning, extraction, chunking."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ingest.chunking import chunk_pages, split_sentences
from ingest.clean import clean_text, join_accents, restore_ligatures
from ingest.extract import ExtractionError, extract_pages
from ingest.furniture import strip_furniture
from ingest.records import Page
from ingest.structure import heading_level
from tests.conftest import make_pdf, requires_shared


def test_clean_text_joins_hyphenated_words_and_ligatures() -> None:
    raw = "The trans-\nformer uses ﬁne   attention.\n\n\n\nNext  paragraph"
    assert clean_text(raw) == "The transformer uses fine attention.\n\nNext paragraph"


def test_sentences_split_on_terminators_not_inside_numbers() -> None:
    text = "Pressure is 9.2 bar. Is it safe? Yes!\n\nNew paragraph without stop"
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["Pressure is 9.2 bar.", "Is it safe?", "Yes!", "New paragraph without stop"]


def test_chunks_keep_page_offsets_overlap_and_size() -> None:
    sentences = [f"Sentence number {i} talks about topic {i % 7} in some detail here." for i in range(60)]
    page = Page("doc.pdf", 4, " ".join(sentences))
    chunks = chunk_pages([page], chunk_words=50, overlap=12)
    assert len(chunks) > 5
    for chunk in chunks:
        assert (chunk.page, chunk.last_page, chunk.source) == (4, 4, "doc.pdf")
        assert page.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 50
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap"
        assert after.start > before.start, "chunking makes progress"
    assert chunks[-1].end == len(page.text)


def test_a_sentence_longer_than_a_chunk_is_cut_by_words() -> None:
    page = Page("long.txt", 1, " ".join(f"w{i}" for i in range(130)))
    chunks = chunk_pages([page], chunk_words=50, overlap=0)
    assert [len(c.text.split()) for c in chunks] == [50, 50, 30]


def test_a_table_under_a_short_title_makes_no_sliver_chunks() -> None:
    rows = " ".join(f"Line item {i} {1000 + i:,} {2000 + i:,} {3000 + i:,}" for i in range(60))
    page = Page("10k.pdf", 38, f"ACME, INC.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\n{rows}")
    chunks = chunk_pages([page], chunk_words=120, overlap=24)
    assert chunks[0].text.startswith("ACME, INC. CONSOLIDATED STATEMENTS OF OPERATIONS (in millions) Line item 0")
    assert min(len(c.text.split()) for c in chunks) >= 40, [len(c.text.split()) for c in chunks]
    assert sum("CONSOLIDATED STATEMENTS" in c.text for c in chunks) == 1, "the title is not repeated in slivers"


def test_a_chunk_belongs_to_the_section_most_of_its_words_stand_under() -> None:
    body = " ".join(f"Row {i} of the statement lists a figure for the year." for i in range(8))
    pages = [Page("r.pdf", 1, f"# Cash flows\n\n{body}"), Page("r.pdf", 2, f"Acme Inc.\n\n# Operations\n\n{body}")]
    chunks = chunk_pages(pages, chunk_words=120, overlap=0)
    assert [(c.page, c.section) for c in chunks] == [(1, "Cash flows"), (2, "Operations")]
    assert chunks[1].text.startswith("Acme Inc.")


def test_a_sentence_across_a_page_break_is_one_chunk_that_spans_both_pages() -> None:
    filler = " ".join(f"Line {i} of the opening section is plain body text." for i in range(8))
    pages = [
        Page("manual.pdf", 1, filler + "\nThe relief valve of the steam circuit opens at a"),
        Page("manual.pdf", 2, "pressure of 2.1 bar and closes again at 1.8 bar.\n" + filler),
    ]
    chunks = chunk_pages(pages, chunk_words=60, overlap=0)
    holder = [c for c in chunks if "opens at a pressure of 2.1 bar" in c.text]
    assert len(holder) == 1
    assert (holder[0].page, holder[0].last_page) == (1, 2)
    assert pages[0].text[holder[0].start :].startswith(holder[0].text.split(" opens")[0][:10])
    assert holder[0].text.endswith(pages[1].text[: holder[0].end].replace("\n", " ")[-20:])


def test_a_page_that_starts_a_new_sentence_starts_a_new_chunk() -> None:
    body = " ".join(f"Statement {i} about the topic of this page ends here." for i in range(6))
    chunks = chunk_pages([Page("d.pdf", 1, body), Page("d.pdf", 2, body)], chunk_words=100, overlap=20)
    assert [(c.page, c.last_page) for c in chunks] == [(1, 1), (2, 2)]


def test_chunks_follow_headings_and_carry_the_section_path() -> None:
    intro = " ".join(f"The introduction sentence {i} explains the general purpose of the device." for i in range(5))
    boiler = " ".join(f"The boiler sentence {i} describes how the heating element is controlled." for i in range(5))
    text = f"# Service guide\n\n{intro}\n\n## 2.1 Steam boiler\n\n{boiler}"
    chunks = chunk_pages([Page("guide.md", 1, text)], chunk_words=80, overlap=20)
    assert len(chunks) == 2, [c.text[:40] for c in chunks]
    assert chunks[0].section == "Service guide"
    assert chunks[1].section == "Service guide > 2.1 Steam boiler"
    assert chunks[1].text.startswith("## 2.1 Steam boiler")
    assert chunks[1].title == "guide | Service guide"
    assert chunks[1].indexed_text().startswith("guide | Service guide | 2.1 Steam boiler\n")


@pytest.mark.parametrize(
    ("line", "previous", "following", "level"),
    [
        ("3.2 Brew boiler", "End of the last section.", "x " * 20, 2),
        ("1. OPERATING SPECIFICATIONS", None, "The brew boiler operates at 9.2 bar.", 1),
        ("Principe de base de l'inférence", None, "• Si l'on prélève un nouveau jeu de données", 9),
        ("Total revenue 1,234 5,678", "Revenue", "Net income 12 13", 0),
        ("wraps onto this line", "The paragraph that", "x " * 20, 0),
        ("2022 2021 2020", None, "x " * 20, 0),
        ("2017 2018 2019 CASH, BEGINNING OF PERIOD", "Net income 3,033", "x " * 20, 0),
        ("The valve opens at 2 bar.", None, "x " * 20, 0),
        ("6 Relations d’ordre, relations d’équivalence 67", "5.5 Compléments . . . . . . 65", "x " * 20, 0),
        ("5.1 Préliminaires . . . . . . . . 57", None, "x " * 20, 0),
        ("4.5. EXERCICES D’APPROFONDISSEMENT 55", None, "x " * 20, 0),
        ("2.2 All patents verified as valid", "2.1 The company holds 12 patents", "2.3 No pending litigation", 0),
        ("2.4 Full inventory in Schedule 1", None, "3. EMPLOYEE MATTERS", 0),
        ("3. EMPLOYEE MATTERS", None, "3.1 Total employees: 47", 1),
        ("3.2 Brew boiler", None, "1. Turn the steam knob", 2),
        ("2 On a alors ab =", "Fin de la preuve.", "x " * 20, 0),
        ("Soit x ∈ R. On a", "Fin de la preuve.", "x " * 20, 0),
        ("RE → RA × RB", None, "x " * 20, 0),
        ("0 M(t)q(t)d t = 0 où q est un polynôme", None, "x " * 20, 0),
        ("4.4.10 Proposition (Formule de Pascal). Soient k,n ∈ N. Alors", None, "x " * 20, 3),
        ("C++ Reference", None, "x " * 20, 9),
    ],
)
def test_heading_shapes(line: str, previous: str | None, following: str | None, level: int) -> None:
    assert heading_level(line, previous, following) == level


def test_running_headers_footers_and_page_numbers_are_kept_out_of_chunks() -> None:
    facts = ["The kiln ran hot.", "Sales rose in March.", "A new press arrived.", "Two staff retired.",
             "The roof was repaired.", "Audit closed with no findings."]  # fmt: skip
    pages = [
        Page("report.pdf", n, f"ACME CORP.\nQuarterly report, page {n} of 6\n{fact}\n{n}")
        for n, fact in enumerate(facts, 1)
    ]
    cleaned, furniture = strip_furniture(pages)
    assert [p.text for p in cleaned] == facts
    assert furniture.identity == "ACME CORP."
    chunks = chunk_pages(pages, chunk_words=120, overlap=0)
    assert all("Quarterly report, page" not in c.text and "ACME" not in c.text for c in chunks)
    assert all("ACME CORP." in c.title for c in chunks), "the running header names the document"


def test_furniture_never_empties_a_page() -> None:
    pages = [Page("register.pdf", n, f"Page {n} of the long register: item code R{n:05d}.") for n in range(1, 9)]
    cleaned, _ = strip_furniture(pages)
    assert cleaned == pages


def test_book_running_headers_that_change_with_the_chapter_are_furniture() -> None:
    """Even pages carry "N CHAPTER k. TITLE", odd pages "k.j. SECTION N": each stands on too few pages to be
    common, but both carry the printed page number; a table row the page number was glued to is kept."""
    titles = ["SETS", "MAPS", "COUNTING", "ORDERS", "GRAPHS"]
    pages = []
    for n in range(1, 21):
        k = (n - 1) // 4
        header = f"{n} CHAPTER {k + 1}. {titles[k]}" if n % 2 == 0 else f"{k + 1}.{n % 4}. ON {titles[k]} {n}"
        body = [f"Proposition {n}.{i}. A set of {n + i} {titles[k].lower()} has {2 ** (n + i)} parts." for i in (1, 2)]
        last = f"The {titles[n % 5].lower()} of remark {n} close it."
        last = f"Total assets $ {n},756,947 $ 3,440,870 {n}" if n in (7, 8) else last
        pages.append(Page("book.pdf", n, "\n".join([header, *body, last])))
    cleaned, furniture = strip_furniture(pages)
    for before, after in zip(pages, cleaned, strict=True):
        assert after.text == before.text.split("\n", 1)[1], before.text
    assert furniture.offset == 0 and not furniture.keys


def test_a_footnote_at_the_foot_of_a_page_names_no_section() -> None:
    """A numbered note under a slide ("1 Les vitesses …", called by "vitesse 1") has a title's shape; taken as
    one, it named every later slide's chunks until the next numbered title."""
    slides = [
        ("Big Picture", "On étudie les propriétés asymptotiques : convergence, vitesse 1",
         "1 Les vitesses ne sont pas abordées ici"),
        ("Biais", "Un estimateur est sans biais si, en moyenne sur tous les échantillons, il tombe sur le paramètre.",
         ""),
        ("Variance", "La variance d'un estimateur mesure sa dispersion autour de son espérance, note 2 en fin de page.",
         "2 Notions non abordées ici"),
    ]  # fmt: skip
    pages = [
        Page("cours.pdf", n, "\n".join(line for line in (title, f"• {body} et la suite du texte.", note) if line))
        for n, (title, body, note) in enumerate(slides, 1)
    ]
    wrapped = "Ordres de grandeur\n• La mantisse compte 24 bits en simple précision 3 et 53 en double précision.\n"
    wrapped += (
        "3. Voir https://en.wikipedia.org/wiki/IEEE_floating_point pour la liste complète par rapport à la\nnorme IEEE."
    )
    pages.append(Page("cours.pdf", 4, wrapped))
    sections = [c.section for c in chunk_pages(pages, chunk_words=20, overlap=0)]
    assert sections and not any("abordées" in s or "Voir" in s for s in sections), sections
    assert "Variance" in sections and sections[-1] == "Ordres de grandeur"


def test_ligatures_a_tex_font_gives_as_codes_are_letters_again() -> None:
    assert (
        restore_ligatures("con\x1cance, di\x1bérentes, e\x1ecace, \x1cgurer")
        == "confiance, différentes, efficace, figurer"
    )
    assert restore_ligatures("h ◦ g\n\x1d\x1d\n(h ◦ g)") == "h ◦ g\n\x1d\x1d\n(h ◦ g)", (
        "an arrow in a diagram is no ligature"
    )
    slides = requires_shared("french", "fr_slides_statistique_inferentielle.pdf")
    text = extract_pages(slides)[65].text
    assert "Faut-il avoir confiance en cette estimation" in text


def test_accents_a_pdf_sets_before_their_letters_are_joined(tmp_path: Path) -> None:
    """TeX's older fonts give "é" as "´e": the letters come back, so "caractéristique" is one searchable word."""
    pdf = make_pdf(tmp_path / "tex.pdf", ["La caract\u00b4eristique tr`es na\u00a8ive du probl`eme franc\u00b8ais."])
    assert "caractéristique très naïve du problème français" in extract_pages(pdf)[0].text
    assert join_accents("m\u02c6eme, ma\u02c6\u0131tre") == "même, maître"
    assert join_accents("l\u2019estimateur \u02c6\u03b8 et `echo`") == "l\u2019estimateur \u02c6\u03b8 et `echo`"
    assert join_accents("`a la fin, franc\u00b8ais") == "à la fin, français"


def test_pdf_pages_are_numbered_from_one_and_empty_pages_left_out(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "facts.pdf", ["Alpha page text.", "", "The gamma fact lives on page three."])
    pages = extract_pages(pdf)
    assert [p.page for p in pages] == [1, 3]
    assert "gamma fact" in pages[1].text


def test_text_and_markdown_files_are_one_page(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Title\n\nLatin-1 café text.", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Un café très fort à Genève, évidemment préféré.".encode("cp1252"))
    assert extract_pages(note)[0].text.endswith("café text.")
    assert "très fort à Genève" in extract_pages(latin)[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.pdf", b"", "empty"),
        ("fake.pdf", b"<html><body>not a pdf</body></html>", "not a PDF"),
        ("data.bin", b"\x00\x01", "unsupported file type"),
    ],
)
def test_unreadable_files_raise_a_clear_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=reason):
        extract_pages(path)


def test_real_service_manual_keeps_its_pages() -> None:
    manual = requires_shared("localgpt", "atlas7_service_manual.pdf")
    pages = extract_pages(manual)
    assert pages[0].page == 1
    assert "9.2 bar" in pages[0].text
