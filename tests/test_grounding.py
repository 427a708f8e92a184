"""The citation check judges what a sentence claims beyond the question (rag.grounding)."""

from __future__ import annotations

from rag.grounding import check_answer, claim, rarity_weights, split_answer, stem
from rag.language import is_other_language
from rag.retrieve import Passage

MANUAL = [
    Passage(
        1,
        "/d/atlas.pdf",
        2,
        0,
        10,
        "4. WARRANTY The Atlas-7 carries a 36-month parts warranty. The warranty is void if descaling agents "
        "with citric acid above 8 percent are used. Warranty claims require the serial number.",
        0.7,
    ),
    Passage(
        2,
        "/d/deal.pdf",
        2,
        0,
        10,
        "V. RESPONSIBLE PARTIES Buyer's Counsel: Morrison & Associates LLP. Escrow Agent: First National Trust. "
        "KEY CONTACTS TechCorp: James Mitchell (CEO), (415) 555-0100. StartupXYZ: Sarah Chen (CEO), (650) 555-0200.",
        0.6,
    ),
]
COURSE = [
    Passage(
        3,
        "/d/cours.pdf",
        3,
        0,
        10,
        "Pour entraîner un LLM, on utilise des optimiseurs comme Adam ou AdamW. Le taux d'apprentissage décroît.",
        0.6,
    )
]


def test_a_sentence_that_only_repeats_the_question_is_vacuous() -> None:
    question = "Quels optimiseurs sont cités pour entraîner un LLM ?"
    _, checks = check_answer("Les optimiseurs cités pour entraîner un LLM sont [1].", COURSE, question)
    assert checks[0].vacuous and not checks[0].supported
    _, checks = check_answer("Les optimiseurs cités sont Adam et AdamW [1].", COURSE, question)
    assert checks[0].supported and not checks[0].vacuous
    assert claim("Les optimiseurs cités sont Adam et AdamW [1].", question)[0] == {"adam", "adamw"}


def test_markers_and_pointers_alone_claim_nothing() -> None:
    question = "What is the duration of the parts warranty?"
    for answer in ("[1][2].", "[1]", "The answer can be found in the documents [1].", "This is stated in [1]."):
        _, checks = check_answer(answer, MANUAL, question)
        assert checks and not checks[0].supported and checks[0].vacuous, answer
    _, checks = check_answer("[1].", MANUAL)
    assert not checks[0].supported, "without the question too, a sentence with no content word is no answer"


def test_added_words_must_be_in_the_supporting_place() -> None:
    question = "What is the duration of the parts warranty of the Atlas-7?"
    _, checks = check_answer("The Atlas-7 parts warranty lasts 36 months [1].", MANUAL, question)
    assert checks[0].supported
    _, checks = check_answer("The Atlas-7 parts warranty is void with citric acid [1].", MANUAL, question)
    assert checks[0].supported, "a true sentence of the place is still supported"
    _, checks = check_answer("The Atlas-7 parts warranty is handled by James Mitchell [1].", MANUAL, question)
    assert not checks[0].supported, "the added name is in another passage"


def test_a_real_number_under_the_wrong_subject_is_not_supported() -> None:
    burrs = "What is the warranty on the grinder burrs of the Atlas-7?"
    _, checks = check_answer("The warranty on the grinder burrs is 36 months [1].", MANUAL, burrs)
    assert not checks[0].supported, "36 months is the parts warranty, not a burr warranty"
    phone = "What is the phone number of the escrow agent, First National Trust?"
    _, checks = check_answer(
        "The escrow agent, First National Trust, can be reached at (415) 555-0100 [2].", MANUAL, phone
    )
    assert not checks[0].supported, "the number is James Mitchell's, in another sentence than the escrow agent"
    _, checks = check_answer("It is (415) 555-0100 [2].", MANUAL, phone)
    assert not checks[0].supported, "without a subject in the answer, the question's is checked"
    ceo = "What is the phone number of TechCorp's CEO James Mitchell?"
    _, checks = check_answer("James Mitchell, TechCorp's CEO, can be reached at (415) 555-0100 [2].", MANUAL, ceo)
    assert checks[0].supported


def test_an_answer_in_the_other_language_is_not_supported() -> None:
    question = "Quels optimiseurs sont cités pour entraîner un LLM ?"
    _, checks = check_answer("The optimizers cited are Adam and AdamW [1].", COURSE, question, "fr")
    assert checks[0].wrong_language and not checks[0].supported
    _, checks = check_answer("Adam et AdamW [1].", COURSE, question, "fr")
    assert checks[0].supported and not checks[0].wrong_language
    assert not is_other_language("Adam, AdamW [1].", "fr"), "names and numbers alone are no language"


def test_a_list_introduced_by_a_colon_is_one_answer() -> None:
    assert split_answer("The optimisers are:\n- Adam [1]\n- AdamW [1]") == [
        "The optimisers are: - Adam [1]",
        "- AdamW [1]",
    ]
    question = "Quels optimiseurs sont cités pour entraîner un LLM ?"
    _, checks = check_answer("Les optimiseurs cités sont :\nAdam [1]\nAdamW [1]", COURSE, question, "fr")
    assert checks[0].supported


def test_an_abbreviation_does_not_end_an_answer_sentence() -> None:
    assert split_answer("StartupXYZ owns 12 U.S. patents [1]. ReAct wins (71 vs. 53) [2].") == [
        "StartupXYZ owns 12 U.S. patents [1].",
        "ReAct wins (71 vs. 53) [2].",
    ]
    assert split_answer("Status:\n1. MegaCorp Inc.: obtained [1].\n2. DataFlow Systems: obtained [1].") == [
        "Status: 1.",
        "MegaCorp Inc.: obtained [1].",
        "2. DataFlow Systems: obtained [1].",
    ]
    assert split_answer("The boiler runs at 9.2 bar. [1] It heats in 4 min.") == [
        "The boiler runs at 9.2 bar. [1]",
        "It heats in 4 min.",
    ]


def test_a_wrong_marker_inside_a_sentence_is_corrected_where_it_stands() -> None:
    question = "How long is the parts warranty?"
    text, checks = check_answer("According to [2], the parts warranty lasts 36 months.", MANUAL, question)
    assert checks[0].supported and checks[0].added == [1]
    assert text == "According to [1], the parts warranty lasts 36 months."
    text, _ = check_answer("The parts warranty lasts 36 months [2].", MANUAL, question)
    assert text == "The parts warranty lasts 36 months [1]."


def test_a_subject_word_every_sentence_holds_counts_for_little() -> None:
    rarity = rarity_weights(MANUAL)
    assert rarity[stem("warranty")] < rarity[stem("serial")] < rarity[""], "rarer in the passages weighs more"
    phone = "What is the phone number of the escrow agent, First National Trust, in the deal?"
    _, checks = check_answer(
        "The escrow agent, First National Trust, can be reached at (415) 555-0100 [2].", MANUAL, phone
    )
    assert not checks[0].supported
    parts = "What is the warranty on the parts of the Atlas-7?"
    _, checks = check_answer("The warranty on the parts of the Atlas-7 is 36 months [1].", MANUAL, parts)
    assert checks[0].supported


def test_a_paraphrased_question_is_answered_by_what_stands_next_to_the_number() -> None:
    memo = [
        Passage(
            3,
            "/d/dd.pdf",
            2,
            0,
            10,
            "4.2 Three contracts contain change-of-control provisions requiring consent. 4.3 Largest customer "
            "(MegaCorp) accounts for 28% of revenue - concentration risk noted in the Risk Assessment Memo.",
            0.5,
        )
    ]
    question = "What proportion of the target company's turnover comes from its single biggest client?"
    said = "The target company's turnover comes from its single biggest client, which accounts for {} of revenue [1]."
    assert check_answer(said.format("28%"), memo, question)[1][0].supported
    assert not check_answer(said.format("35%"), memo, question)[1][0].supported
    # one added word beside the number is too little to vouch for a claim whose subject the passage does not hold
    assert not check_answer("The single biggest client accounts for 28% [1].", memo, question)[1][0].supported


def test_the_question_s_word_in_another_form_is_not_a_claim_beside_the_number() -> None:
    memo = [
        Passage(
            4,
            "/d/adjustments.pdf",
            2,
            0,
            10,
            "5. SUMMARY Debt Adjustment: ($175,000) Revenue Recognition: ($1,275,000) Adjusted Purchase Price: "
            "$43,330,000 Plus escrow reserve: $1,300,000 Total cash required at closing: $44,630,000",
            0.5,
        )
    ]
    question = "After the recommended write-downs, what did the price become?"
    # "became" is the question's "become", which no stemmer joins: the words beside the numbers vouch for the rest
    said = "After the recommended write-downs, the price {} {} plus escrow reserve of $1,300,000 [1]."
    assert check_answer(said.format("became", "$43,330,000"), memo, question)[1][0].supported
    assert not check_answer(said.format("became", "$44,000,000"), memo, question)[1][0].supported
    # a word of its own that the passage lacks still keeps the claim out
    assert not check_answer(said.format("developed into", "$43,330,000"), memo, question)[1][0].supported


def test_a_name_inside_a_path_is_found() -> None:
    models = [
        Passage(
            4,
            "/d/indexing.md",
            1,
            0,
            10,
            "`Qwen/Qwen3-Embedding-4B` produces 2560-dim vectors; `Qwen/Qwen3-Embedding-0.6B` produces 1024-dim ones.",
            0.5,
        )
    ]
    question = "How many dimensions does the Qwen3-Embedding-4B produce?"
    assert check_answer("The Qwen3-Embedding-4B produces 2560-dim vectors [1].", models, question)[1][0].supported
    assert not check_answer("The Qwen3-Embedding-4B produces 4096-dim vectors [1].", models, question)[1][0].supported


def test_a_figure_the_pdf_set_with_a_spaced_or_other_dash_is_found() -> None:
    """pypdf reads "1e-6" as "1e − 6" (a minus sign, spaced) and a patent number's hyphen as U+2010: an answer
    writing them whole names the same figure, and a figure the passage does not hold still fails."""
    paper = [
        Passage(
            5,
            "/d/paper.pdf",
            17,
            0,
            10,
            "For optimization, we use the AdamW optimizer with a warmup of 20 steps, a learning rate of 1e \u2212 6, "
            "a weight decay of 0.001. Publication JP 2023\u2010118508 A lists the parts.",
            0.5,
        )
    ]
    question = "What warmup and learning rate does the paper use with AdamW?"
    said = "The paper uses a warmup of 20 steps and a learning rate of 1e-6 with AdamW [1]."
    assert check_answer(said, paper, question)[1][0].supported
    assert not check_answer(said.replace("1e-6", "1e-5"), paper, question)[1][0].supported
    patent = "Which publication lists the parts?"
    assert check_answer("Publication JP 2023-118508 A lists the parts [1].", paper, patent)[1][0].supported
    assert not check_answer("Publication JP 2023-118509 A lists the parts [1].", paper, patent)[1][0].supported


def test_a_sentence_joining_claims_from_two_passages_is_checked_clause_by_clause() -> None:
    """The condition stands in the agreement, its date in the letter ("X, which was granted on January 28, 2025").
    Each clause must be supported on its own; one invented clause still fails the sentence."""
    deal = [
        Passage(
            6,
            "/d/agreement.pdf",
            1,
            0,
            10,
            "ARTICLE IV - CONDITIONS TO CLOSING. Buyer's obligation to close is subject to receipt of regulatory "
            "approval as documented in the Regulatory Approval Letter.",
            0.6,
        ),
        Passage(
            7,
            "/d/approval.pdf",
            1,
            0,
            10,
            "FILING DETAILS Filing Date: January 10, 2025. Early Termination Granted: January 28, 2025. The parties "
            "may now consummate the transaction.",
            0.5,
        ),
    ]
    question = "The agreement makes the buyer's closing conditional on a regulatory approval. When was it granted?"
    said = (
        "The buyer's obligation to close is subject to regulatory approval as documented in the Regulatory "
        "Approval Letter, which was granted on January 28, 2025 [1]."
    )
    text, checks = check_answer(said, deal, question)
    assert checks[0].supported and checks[0].added == [1, 2], checks
    assert text.endswith("2025 [1][2].")
    assert not check_answer(said.replace("January 28", "February 3"), deal, question)[1][0].supported
    invented = said.replace("[1].", "and the escrow holds $2,000,000 [1].").replace(", which", "; it")
    assert not check_answer(invented, deal, question)[1][0].supported


def test_numbers_a_passage_joins_with_a_comma_are_also_read_as_a_list() -> None:
    """A course writes the interval "[0,6]", which reads as the decimal "0,6" too; the answer names its ends. The
    bracket in a passage is no citation marker, and a figure the passage does not hold still fails."""
    course = [Passage(6, "/d/cours.pdf", 9, 0, 10, "Sur [0,6] on obtient une borne d'erreur de 0,01902.", 0.5)]
    question = "Quelle borne d'erreur obtient-on sur cet intervalle ?"
    said = "De 0 à 6, on obtient une borne de 0,01902 [1]."
    assert check_answer(said, course, question)[1][0].supported
    assert check_answer("On obtient une borne de 0,6 [1].", course, question)[1][0].supported, "the decimal reading"
    assert not check_answer(said.replace("6,", "7,"), course, question)[1][0].supported
    assert not check_answer(said.replace("0,01902", "0,01903"), course, question)[1][0].supported
