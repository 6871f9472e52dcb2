"""Wikipedia (DBpedia abstracts): loader, synthetic fallback and offline 768-d embeddings."""

from __future__ import annotations

from .corpus import WikipediaCorpus, wikipedia_corpus
from .embeddings import DEFAULT_DIM, EmbeddingInfo, TfidfParams, embed_texts, random_rotation
from .generator import generate_wikipedia
from .loader import load_wikipedia, sample_per_domain, wikipedia_available, wikipedia_path
from .schema import CLASS_DOMAIN, COLUMNS, DOMAINS, TOPICAL_DOMAINS, domain_of

__all__ = [
    "CLASS_DOMAIN",
    "COLUMNS",
    "DEFAULT_DIM",
    "DOMAINS",
    "TOPICAL_DOMAINS",
    "EmbeddingInfo",
    "TfidfParams",
    "WikipediaCorpus",
    "domain_of",
    "embed_texts",
    "generate_wikipedia",
    "load_wikipedia",
    "random_rotation",
    "sample_per_domain",
    "wikipedia_available",
    "wikipedia_corpus",
    "wikipedia_path",
]
