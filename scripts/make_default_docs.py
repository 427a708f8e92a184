"""Generate the default documents shipped in ``data/docs/``.

Two short courses written for this project (an English one and a French one) are rendered
to PDF with fpdf2 and a DejaVu Unicode font, plus a Markdown quick-start note. Every page is
laid out explicitly so that each fact lands on a known page (the gold set in
``eval/default_docs.jsonl`` relies on that). The output is deterministic: rerunning the
script rewrites identical bytes.

Usage::

    python scripts/make_default_docs.py [--out data/docs]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parents[1]
FIXED_DATE = datetime(2025, 1, 15, 9, 0, 0, tzinfo=UTC)
FONT_DIRS = [
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
]
NBSP = "\u00a0"

# A page is a list of blocks: ("h", heading), ("p", paragraph) or ("l", bullet list item).
Page = list[tuple[str, str]]


@dataclass
class Course:
    """One document: metadata and its pages."""

    filename: str
    lang: str
    title: str
    subtitle: str
    footer: str
    pages: list[Page] = field(default_factory=list)


EN_PAGES: list[Page] = [
    [
        (
            "p",
            "These notes accompany a six-session workshop on building a private assistant that answers "
            "questions about a folder of documents. The first half explains how Transformer language models "
            "work; the second half explains retrieval-augmented generation (RAG), where a search step finds "
            "the relevant passages before the model writes an answer. Each page covers one topic, with "
            "concrete figures that you can check.",
        ),
        ("h", "1. Tokens"),
        (
            "p",
            "A language model never sees characters directly. A tokenizer first cuts the text into tokens: "
            "whole words, pieces of words, punctuation marks or single bytes. Most modern tokenizers are "
            "trained with byte-pair encoding (BPE), which starts from single bytes and repeatedly merges the "
            "most frequent adjacent pair until the vocabulary reaches a chosen size. Llama 2 uses a "
            "vocabulary of 32,000 tokens, while GPT-2 uses 50,257.",
        ),
        (
            "p",
            "A useful rule of thumb for English prose is that one token covers about four characters, or "
            "roughly three quarters of a word, so a 1,000-word document costs about 1,300 tokens. French "
            "text usually needs more tokens per word, because accented and longer words are split into "
            "more pieces.",
        ),
        ("h", "2. Token embeddings"),
        (
            "p",
            "Each token identifier is mapped to a row of an embedding matrix. If the vocabulary has V "
            "entries and the model width is d_model, that matrix holds V × d_model numbers. In the original "
            "Transformer of Vaswani and colleagues (2017), d_model is 512; in a Llama model with 7 billion "
            "parameters it is 4,096. These vectors are learned during training, so tokens used in similar "
            "contexts end up close to each other.",
        ),
        (
            "p",
            "Token embeddings are not the same thing as the sentence embeddings used for search (section "
            "11): the first describe single tokens inside a model, the second summarise a whole passage as "
            "one vector.",
        ),
    ],
    [
        ("h", "3. Self-attention"),
        (
            "p",
            "Self-attention lets every token gather information from every other token of the same "
            "sequence. For each position the layer computes three vectors by multiplying its input with "
            "learned matrices: a query (what this token is looking for), a key (what it offers to the "
            "others) and a value (the content it passes on).",
        ),
        (
            "p",
            "The score between position i and position j is the dot product of query i and key j. Scores "
            "are divided by the square root of the key dimension d_k, turned into weights by a softmax, and "
            "used to average the value vectors: Attention(Q, K, V) = softmax(Q K^T / √d_k) V. Without the "
            "scaling, large dot products push the softmax into regions where gradients almost vanish. With "
            "d_k = 64, the scores are divided by 8.",
        ),
        ("h", "4. Multi-head attention"),
        (
            "p",
            "Instead of one large attention, the model runs several smaller heads in parallel, each with "
            "its own projections, and concatenates their outputs. The base Transformer uses 8 heads of "
            "dimension 64, which again gives 8 × 64 = 512. Different heads learn different habits: one may "
            "follow syntax, another may track which noun a pronoun refers to, a third may simply look at "
            "the previous token.",
        ),
        ("h", "5. Masking and cost"),
        (
            "p",
            "In a decoder, a causal mask sets the scores of future positions to minus infinity before the "
            "softmax, so a token can only attend to earlier tokens. Attention compares every pair of "
            "positions, so its cost grows with the square of the sequence length: going from 2,048 to 4,096 "
            "tokens makes the score matrix four times larger.",
        ),
        (
            "p",
            "During generation, a key-value cache (KV cache) keeps the keys and values of the tokens "
            "already processed, so each new token only computes its own query, key and value instead of "
            "recomputing the whole sequence.",
        ),
    ],
    [
        ("h", "6. Positional encodings"),
        (
            "p",
            "Attention by itself ignores word order: shuffling the input merely shuffles the output. "
            "Position information must therefore be added. The original Transformer added fixed sinusoidal "
            "encodings, whose wavelengths form a geometric progression from 2π to 10,000 · 2π. BERT learns "
            "one position vector per slot, up to 512 positions. Most recent decoders, including Llama and "
            "Qwen, use rotary position embeddings (RoPE), which rotate query and key vectors by an angle "
            "proportional to the position, so that their dot product depends only on the relative distance.",
        ),
        ("h", "7. Encoders and decoders"),
        (
            "p",
            "An encoder reads the whole input at once with bidirectional attention and produces one "
            "contextual vector per token; BERT is the classic encoder-only model and suits classification "
            "and embeddings. A decoder generates text one token at a time under a causal mask; GPT, Llama, "
            "Mistral and Qwen are decoder-only models. Encoder-decoder models such as T5 add cross-attention "
            "so that the decoder can read the encoder output, a design that suits translation and "
            "summarisation.",
        ),
        ("h", "8. Training and fine-tuning"),
        (
            "p",
            "Pre-training teaches a decoder to predict the next token over trillions of tokens of text by "
            "minimising the cross-entropy loss. The result is a base model that continues text but does not "
            "reliably follow instructions. Supervised fine-tuning, also called instruction tuning, then "
            "trains on pairs of prompts and good answers, and preference methods such as RLHF or DPO push "
            "the model towards the answers people prefer.",
        ),
        (
            "p",
            "Full fine-tuning updates every weight and needs a lot of memory. LoRA (low-rank adaptation) "
            "freezes the base weights and learns two small matrices per layer whose product is added to the "
            "original weight; with a rank of 8, the trainable parameters are often below 1% of the model. "
            "For document question answering, retrieval is usually cheaper than fine-tuning: new documents "
            "become available as soon as they are indexed, and answers can cite their source.",
        ),
    ],
    [
        ("h", "9. Quantization"),
        (
            "p",
            "A model stored in 16-bit floating point needs two bytes per parameter, so a model with 7 "
            "billion parameters weighs about 14 GB before any activations are counted. Quantization stores "
            "the weights with fewer bits. The GGUF file format, used by llama.cpp, offers many schemes whose "
            "names give the bit width (Q4, Q5, Q8) and the variant. The K-quants group weights into "
            "super-blocks of 256 values that share their scales.",
        ),
        (
            "p",
            "Q4_K_M is a popular compromise: it keeps most tensors at 4 bits but stores some sensitive ones, "
            "such as parts of the attention and feed-forward output projections, at 6 bits, for an average "
            "of about 4.8 bits per weight. A 7B model in Q4_K_M takes roughly 4.1 GB, and a 1.5B model about "
            "1 GB. Q8_0 is nearly lossless but about twice as large; Q2_K is small but visibly degrades the "
            "answers.",
        ),
        ("h", "10. Running on a CPU with llama.cpp"),
        (
            "p",
            "llama.cpp is an inference engine written in C and C++ that runs GGUF models on ordinary "
            "processors, using vector instructions such as AVX2 on x86 and NEON on ARM. On a CPU, generation "
            "speed is limited mainly by memory bandwidth, because every generated token reads all the "
            "weights once. As a rough estimate, a laptop with 50 GB/s of memory bandwidth produces at most "
            "about 12 tokens per second with a 4 GB model. Reading the prompt is faster per token, because "
            "it is processed in batches.",
        ),
        (
            "p",
            "Practical settings: use as many threads as physical cores rather than hyper-threads; keep the "
            "context window no larger than needed (n_ctx = 4096 is plenty for five passages of 800 "
            "characters); and memory-map the model file so that it loads in seconds. The KV cache grows "
            "linearly with the context length and is allocated at start-up.",
        ),
    ],
    [
        ("h", "11. Sentence embeddings and cosine similarity"),
        (
            "p",
            "Retrieval starts by turning each passage into a single vector with a sentence-embedding model, "
            "usually an encoder trained so that a question and the passage that answers it land close "
            "together. all-MiniLM-L6-v2 is a small and fast example: it has 6 layers and about 22 million "
            "parameters, and it produces 384-dimensional vectors. It reads at most 256 word pieces per "
            "input and truncates longer text, which is one reason to keep chunks short. Multilingual models "
            "such as paraphrase-multilingual-MiniLM-L12-v2 map French and English into the same space.",
        ),
        (
            "p",
            "Closeness is measured with cosine similarity: the dot product of two vectors divided by the "
            "product of their lengths. It ranges from -1 to 1 and ignores the length of the vectors. If all "
            "vectors are normalised to unit length beforehand, cosine similarity is exactly the inner "
            "product, which is cheaper to compute and is what vector indexes optimise.",
        ),
        ("h", "12. Chunking with overlap"),
        (
            "p",
            "Whole documents are too long to embed or to place in a prompt, so they are cut into chunks. A "
            "chunk should be long enough to hold a complete idea and short enough to stay on one topic; 500 "
            "to 1,000 characters is a common range. Adjacent chunks share an overlap, so that a sentence cut "
            "at a boundary still appears whole in one of them. In our reference setup, chunks are 800 "
            "characters long with an overlap of 120 characters, split preferably at paragraph and sentence "
            "boundaries. Each chunk remembers its file name and page number so that answers can cite the "
            "page.",
        ),
        (
            "p",
            "Worked example: a handbook of 40 pages and about 96,000 characters gives roughly 140 chunks with "
            "these settings, since each new chunk advances by 800 − 120 = 680 characters.",
        ),
    ],
    [
        ("h", "13. Vector indexes"),
        (
            "p",
            "A vector index returns the stored vectors nearest to a query vector. FAISS, a library from "
            "Meta's research lab, offers both exact and approximate indexes. IndexFlatIP compares the query "
            "with every stored vector by inner product; with normalised vectors this is cosine similarity, "
            "and the search is exact. For up to a few hundred thousand chunks, a flat index answers in "
            "milliseconds on a CPU. Larger collections use approximate indexes such as HNSW graphs or IVF, "
            "which trade a little recall for speed: an IVF index with 1,024 lists might search only 8 of "
            "them per query (nprobe = 8).",
        ),
        ("h", "14. BM25 keyword search"),
        (
            "p",
            "Dense embeddings are good at paraphrases but weak on rare exact terms: product codes, surnames, "
            "error messages. BM25 is the classic keyword ranking function. It scores a document by summing, "
            "over the query terms, the inverse document frequency of each term multiplied by a saturated "
            "term frequency that is normalised by the document length. Its two parameters are usually set "
            "to k1 = 1.2, which controls how quickly repeated terms stop adding score, and b = 0.75, which "
            "controls the length normalisation.",
        ),
        ("h", "15. Hybrid search and reciprocal rank fusion"),
        (
            "p",
            "Hybrid search runs both retrievers and merges their result lists. Their raw scores live on "
            "different scales, so instead of adding scores we combine ranks. Reciprocal rank fusion (RRF) "
            "gives each document the sum, over the lists, of 1 / (k + rank), where rank starts at 1. The RRF "
            "constant k is usually 60; it damps the advantage of the very first positions, so that a "
            "document ranked well by both retrievers beats one ranked first by only one of them.",
        ),
        (
            "p",
            "Example: a chunk ranked 1st by BM25 and 3rd by the dense index scores 1/61 + 1/63 ≈ 0.0323, "
            "while a chunk ranked 2nd by the dense index alone scores 1/62 ≈ 0.0161.",
        ),
    ],
    [
        ("h", "16. Prompting with numbered passages"),
        (
            "p",
            "The generator receives the question together with the best passages, each preceded by a "
            "number and its source, for example [1] handbook.pdf, page 12. The instructions ask the model "
            "to answer only from these passages and to cite them by their numbers in square brackets. "
            "Numbers are shorter than file names, and the application maps each cited number back to a file "
            "and a page so that the reader can check the answer. Five passages of about 800 characters fit "
            "comfortably in a context of 4,096 tokens.",
        ),
        ("h", "17. Hallucination and refusals"),
        (
            "p",
            "A hallucination is a fluent statement that the sources do not support. Retrieval reduces "
            "hallucination but does not remove it: the model may mix passages, fill gaps with general "
            "knowledge or cite the wrong number. Three defences work well together.",
        ),
        (
            "l",
            "Refuse before generating when the best retrieval score is below a threshold, because then no "
            "passage is relevant.",
        ),
        (
            "l",
            "Give the model the exact refusal sentence to use when the passages do not contain the answer, "
            'such as "I could not find this in the documents."',
        ),
        (
            "l",
            "After generation, check that every cited number exists and that the cited passages share words "
            "with the sentence that cites them.",
        ),
        ("h", "18. Evaluation"),
        (
            "p",
            "Retrieval is evaluated on a gold set of questions, each labelled with the passage or page that "
            "answers it. Recall@k is the fraction of questions for which a correct passage appears among "
            "the first k results. The mean reciprocal rank (MRR) averages 1/rank of the first correct "
            "passage, counting 0 when none is found: if the right passage comes 1st for one question, 2nd "
            "for another and is missing for a third, MRR = (1 + 0.5 + 0) / 3 = 0.5. Unanswerable questions, "
            "whose answer is not in the corpus, measure whether the system refuses instead of inventing. A "
            "set of 30 to 50 questions is enough to compare settings, provided it is written before any "
            "tuning.",
        ),
    ],
]

FR_PAGES: list[Page] = [
    [
        (
            "p",
            "Ce support accompagne un module de quatre séances consacré aux assistants qui répondent à des "
            "questions sur un ensemble de documents. Il suit un fil rouge : le projet du laboratoire "
            "Hélios, un laboratoire (fictif) de chimie des matériaux installé à Grenoble, qui souhaite "
            "interroger ses cahiers de procédures sans qu'aucun document ne quitte ses murs.",
        ),
        ("h", "1. Du texte aux jetons"),
        (
            "p",
            "Un modèle de langage ne lit pas des lettres mais des jetons (tokens). Le découpage en jetons, "
            "appelé tokenisation, repose le plus souvent sur l'encodage par paires d'octets (BPE) : on part "
            "des octets isolés et l'on fusionne, étape après étape, les paires voisines les plus "
            "fréquentes. Un mot courant comme « maison » forme souvent un seul jeton, tandis qu'un mot rare "
            "comme « anticonstitutionnellement » est découpé en plusieurs morceaux.",
        ),
        (
            "p",
            "À longueur égale, un texte français consomme en général 20 à 30 % de jetons de plus qu'un "
            "texte anglais, car les vocabulaires ont été construits sur des corpus majoritairement "
            "anglophones. C'est une des raisons pour lesquelles l'équipe d'Hélios a choisi un modèle "
            "multilingue.",
        ),
        ("h", "2. Plongements lexicaux"),
        (
            "p",
            "Chaque jeton est ensuite remplacé par un vecteur de nombres réels, son plongement (embedding). "
            "Ces vecteurs sont appris pendant l'entraînement : deux jetons employés dans des contextes "
            "voisins, comme « chat » et « félin », finissent par avoir des vecteurs proches. La dimension de "
            "ces vecteurs est la largeur du modèle : 768 pour BERT-base, 4 096 pour un modèle de 7 "
            "milliards de paramètres.",
        ),
    ],
    [
        ("h", "3. Le mécanisme d'attention"),
        (
            "p",
            "L'attention permet à chaque jeton de tenir compte des autres jetons de la phrase. Pour chaque "
            "position, la couche calcule trois vecteurs : une requête (query), une clé (key) et une valeur "
            "(value). On compare la requête d'un jeton aux clés de tous les jetons par un produit scalaire, "
            "on divise le résultat par la racine carrée de la dimension des clés, puis une fonction softmax "
            "transforme ces scores en poids positifs dont la somme vaut 1. La sortie est la moyenne des "
            "valeurs pondérée par ces poids.",
        ),
        (
            "p",
            "La division par √d_k évite que les scores deviennent trop grands lorsque la dimension "
            "augmente : sans elle, la softmax se comporterait presque comme un maximum et l'apprentissage "
            "deviendrait instable. Dans l'attention multi-têtes, plusieurs attentions plus petites "
            "travaillent en parallèle ; BERT-base utilise 12 têtes de dimension 64 dans chacune de ses 12 "
            "couches.",
        ),
        ("h", "4. Position et architecture"),
        (
            "p",
            "L'attention ne connaît pas l'ordre des mots. On ajoute donc une information de position : des "
            "encodages sinusoïdaux fixes dans le Transformer d'origine, des positions apprises dans BERT, "
            "ou des rotations (RoPE) dans la plupart des modèles récents.",
        ),
        (
            "p",
            "On distingue trois familles d'architectures. Les encodeurs lisent tout le texte dans les deux "
            "sens et servent à classer des textes ou à produire des plongements. Les décodeurs écrivent un "
            "jeton après l'autre grâce à un masque causal, qui interdit de regarder les positions futures. "
            "Les modèles encodeur-décodeur, enfin, conviennent bien à la traduction.",
        ),
    ],
    [
        ("h", "5. Entraînement et adaptation"),
        (
            "p",
            "Le pré-entraînement consiste à prédire le jeton suivant sur d'immenses corpus. Le modèle obtenu "
            "sait compléter un texte mais suit mal les consignes ; on l'affine ensuite sur des exemples de "
            "questions accompagnées de bonnes réponses. Pour adapter un modèle à moindre coût, la méthode "
            "LoRA n'entraîne que deux petites matrices par couche.",
        ),
        (
            "p",
            "Au laboratoire Hélios, l'équipe a renoncé à l'affinage : les procédures changent chaque mois, "
            "et il aurait fallu réentraîner le modèle à chaque révision, alors qu'une simple réindexation "
            "suffit avec le RAG.",
        ),
        ("h", "6. Quantification et exécution sur processeur"),
        (
            "p",
            "Un paramètre stocké en demi-précision occupe 2 octets. La quantification réduit ce coût en "
            "représentant les poids sur 8, 5 ou 4 bits. Le format GGUF, lu par llama.cpp, propose notamment "
            "le schéma Q4_K_M, qui mélange des blocs à 4 et à 6 bits et revient en moyenne à un peu moins "
            "de 5 bits par poids. Au laboratoire Hélios, le modèle retenu, de 3 milliards de paramètres, "
            "passe ainsi de 6,2 Go en demi-précision à 1,9 Go en Q4_K_M.",
        ),
        (
            "p",
            "Sur le poste de test, un ordinateur portable à 8 cœurs sans carte graphique, llama.cpp génère "
            "environ 9 jetons par seconde avec ce modèle. La vitesse dépend surtout de la bande passante "
            "mémoire, car chaque nouveau jeton relit l'ensemble des poids. L'équipe a fixé le nombre de fils "
            "d'exécution à 8, un par cœur physique.",
        ),
    ],
    [
        ("h", "7. Recherche sémantique"),
        (
            "p",
            "Pour retrouver les passages utiles, on calcule un plongement de phrase pour chaque passage et "
            "pour la question, puis on compare ces vecteurs avec la similarité cosinus, c'est-à-dire le "
            "cosinus de l'angle entre les deux vecteurs ; elle vaut 1 lorsqu'ils pointent dans la même "
            "direction. Si l'on normalise les vecteurs à une longueur de 1, le cosinus se confond avec le "
            "produit scalaire, ce qui permet d'utiliser un index FAISS de type IndexFlatIP. Le modèle "
            "multilingual-e5-small produit des vecteurs de 384 dimensions et comprend aussi bien le "
            "français que l'anglais.",
        ),
        ("h", "8. Découpage des documents"),
        (
            "p",
            "Les documents sont découpés en passages (chunks) qui se chevauchent. Au laboratoire Hélios, "
            "après plusieurs essais, l'équipe a retenu des passages de 1 000 caractères avec un "
            "chevauchement de 200 caractères : avec 500 caractères, les procédures étaient coupées au milieu "
            "des étapes ; avec 2 000, les passages mélangeaient plusieurs sujets et la recherche perdait en "
            "précision. Les 412 procédures du laboratoire ont ainsi produit 9 730 passages.",
        ),
        ("h", "9. Recherche hybride"),
        (
            "p",
            "La recherche par mots-clés BM25 complète la recherche sémantique : elle retrouve les termes "
            "rares et exacts, comme les références de produits (par exemple « HX-220 ») ou les noms "
            "propres, que les plongements confondent parfois. Les deux listes de résultats sont fusionnées "
            "par la fusion des rangs réciproques (RRF) : chaque passage reçoit la somme des valeurs "
            "1 / (60 + rang) obtenues dans chaque liste.",
        ),
        (
            "p",
            "Sur le jeu de test du laboratoire, la recherche hybride a fait passer le rappel à 5 (recall@5) "
            "de 0,78 avec la seule recherche sémantique à 0,91.",
        ),
    ],
    [
        ("h", "10. Générer une réponse sourcée"),
        (
            "p",
            "Les meilleurs passages sont placés dans l'invite (prompt), numérotés [1], [2], [3], avec le nom "
            "du fichier et la page. La consigne demande de répondre uniquement à partir de ces passages et "
            "de citer leurs numéros entre crochets. L'application transforme ensuite chaque numéro cité en "
            "lien vers la page du document, ce qui permet à l'utilisateur de vérifier la réponse.",
        ),
        ("h", "11. Hallucinations et refus"),
        (
            "p",
            "Une hallucination est une affirmation plausible mais absente des sources. Pour la limiter, le "
            "système refuse de répondre lorsque le meilleur passage obtient un score de similarité trop "
            "faible, et le modèle reçoit la phrase exacte à employer dans ce cas : « Je n'ai pas trouvé "
            "cette information dans les documents. » Au laboratoire Hélios, le seuil de refus a été fixé à "
            "0,35 après l'examen de 60 questions dont la réponse ne figurait pas dans le corpus.",
        ),
        ("h", "12. Évaluer le système"),
        (
            "p",
            "On évalue séparément la recherche et la génération. Pour la recherche, on mesure le rappel à k, "
            "c'est-à-dire la proportion de questions dont un bon passage figure parmi les k premiers "
            "résultats, et le rang réciproque moyen (MRR). Pour la génération, on vérifie que la réponse "
            "contient l'information attendue, qu'elle cite la bonne source et qu'elle refuse les questions "
            "hors sujet.",
        ),
        (
            "p",
            "Le jeu d'évaluation du laboratoire Hélios compte 150 questions, rédigées par six techniciens "
            "entre le 3 et le 14 février 2025. L'assistant a été mis en service le 2 avril 2025 ; au bout "
            "d'un mois, il répondait à environ 40 questions par jour. Les techniciens s'en servent surtout "
            "le matin, pour vérifier une étape de protocole plutôt que pour relire une procédure entière.",
        ),
    ],
]

COURSES = [
    Course(
        filename="transformers_and_rag_course.pdf",
        lang="en",
        title="Transformers and Retrieval-Augmented Generation",
        subtitle="A short course for building private document assistants (lecture notes, edition 2.1)",
        footer="Transformers and RAG: a short course",
        pages=EN_PAGES,
    ),
    Course(
        filename="cours_rag_fr.pdf",
        lang="fr",
        title="L'IA générative appliquée aux documents",
        subtitle="Modèles Transformer et génération augmentée par la recherche (RAG) : support de cours, "
        "session de printemps 2025",
        footer="Cours RAG, session de printemps 2025",
        pages=FR_PAGES,
    ),
]

QUICKSTART = """\
# Quick start: asking questions about your documents

This note ships with the application as a sample text document.

1. Start the application with `scripts/run.sh`. It installs what is missing, indexes the
   folder `data/docs/` and opens the interface on your own machine (http://127.0.0.1:8501).
   Nothing leaves the computer: the embedding model and the language model both run locally
   on the CPU.
2. Add documents. PDF, `.txt` and `.md` files are read. Scanned PDFs without a text layer
   cannot be searched until they are converted with an OCR tool.
3. Ask a question in English or in French. The answer comes back in the language of the
   question, with numbered citations such as [1] that point to a file and a page.
4. When the documents do not contain the answer, the assistant says so instead of guessing.

From a terminal, the same steps are available through the `rag` command:

- `rag index data/docs` indexes a folder (only new or changed files are processed);
- `rag search "your question"` shows the passages that match best;
- `rag ask "your question"` writes an answer with its sources;
- `rag docs` lists the indexed documents and `rag remove FILE` forgets one.

Tip: questions that use the words of the documents (a product code, a section name) are
found more reliably than vague ones.
"""


def find_font(name: str) -> Path:
    """Path of a DejaVu TTF file, from the usual system folders or an installed package."""
    for folder in FONT_DIRS:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    for site in map(Path, sys.path):
        candidate = site / "matplotlib" / "mpl-data" / "fonts" / "ttf" / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} not found: install it with `apt-get install -y fonts-dejavu-core`")


def french_spacing(text: str) -> str:
    """No-break spaces before French double punctuation and inside guillemets."""
    for mark in (":", ";", "?", "!", "»", "%"):
        text = text.replace(f" {mark}", f"{NBSP}{mark}")
    text = re.sub(r"(\d) (\d{3})\b", rf"\1{NBSP}\2", text)
    return text.replace("« ", f"«{NBSP}")


class CoursePDF(FPDF):
    """A4 document with a running footer: short title and page number."""

    def __init__(self, course: Course) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.course = course

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, self.course.footer, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 8, f"Page {self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def render(course: Course, out: Path) -> int:
    """Write one course to ``out``; return its number of pages."""
    pdf = CoursePDF(course)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_producer("local-doc-qa scripts/make_default_docs.py")
    pdf.set_title(course.title)
    pdf.set_author("local-doc-qa")
    pdf.set_lang(course.lang)
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_font("DejaVu", "", str(find_font("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(find_font("DejaVuSans-Bold.ttf")))
    fix = french_spacing if course.lang == "fr" else (lambda s: s)

    for number, page in enumerate(course.pages, 1):
        pdf.add_page()
        if number == 1:
            pdf.set_font("DejaVu", "B", 18)
            pdf.multi_cell(0, 9, fix(course.title), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
            pdf.set_font("DejaVu", "", 11)
            pdf.set_text_color(80, 80, 80)
            pdf.multi_cell(0, 6, fix(course.subtitle), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(4)
        for kind, text in page:
            if kind == "h":
                pdf.ln(2)
                pdf.set_font("DejaVu", "B", 13)
                pdf.multi_cell(0, 7, fix(text), align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "p":
                pdf.set_font("DejaVu", "", 10.5)
                pdf.multi_cell(0, 5.6, fix(text), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2.5)
            elif kind == "l":
                pdf.set_font("DejaVu", "", 10.5)
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(5, 5.6, "•")
                pdf.multi_cell(0, 5.6, fix(text), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
            else:
                raise ValueError(f"unknown block kind {kind!r}")
        if pdf.page_no() != number:
            raise RuntimeError(f"{course.filename}: planned page {number} overflowed onto page {pdf.page_no()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return pdf.page_no()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "docs", help="output folder (default data/docs)")
    args = parser.parse_args(argv)
    for course in COURSES:
        target = args.out / course.filename
        pages = render(course, target)
        print(f"{target}: {pages} pages")
    note = args.out / "notes_quickstart.md"
    note.write_text(QUICKSTART, encoding="utf-8")
    print(f"{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
