"""The schema of the ``wikipedia-dbpedia`` sample, shared by the loader and the generator."""

from __future__ import annotations

from typing import Literal

Domain = Literal["science", "history", "arts", "other"]

COLUMNS: tuple[str, ...] = ("id", "title", "text", "label", "domain", "source")
DOMAINS: tuple[str, ...] = ("science", "history", "arts", "other")
#: The three topical domains used by workflow 101 (``other`` is mixed or off-topic).
TOPICAL_DOMAINS: tuple[str, ...] = ("science", "history", "arts")

#: DBpedia class -> domain (both label schemes); any class not listed is ``other``.
CLASS_DOMAIN: dict[str, str] = {
    **dict.fromkeys(
        ("Animal", "Plant", "Eukaryote", "FloweringPlant", "CelestialBody", "NaturalEvent", "Scientist"),
        "science",
    ),
    **dict.fromkeys(("OfficeHolder", "Politician", "BritishRoyalty", "Cleric", "LegalCase"), "history"),
    **dict.fromkeys(
        (
            "Artist",
            "Actor",
            "MusicalArtist",
            "MusicalWork",
            "Song",
            "Album",
            "Film",
            "Writer",
            "WrittenWork",
            "Comic",
            "ComicsCharacter",
            "Cartoon",
            "FictionalCharacter",
            "Genre",
        ),
        "arts",
    ),
}

#: Record counts of the real sample (from the shared README).
N_RECORDS = 20_888
DOMAIN_COUNTS: dict[str, int] = {"other": 12_756, "arts": 4_036, "science": 2_751, "history": 1_345}
SAMPLE_FILE = "dbpedia_wiki_sample.jsonl.gz"
SAMPLE_SHA256 = "ae70a8692120a2f25dd570a07b927e968b141e1b1628bc6b39ef9c1640565cd3"


def domain_of(label: str) -> str:
    """The domain a DBpedia class maps to (``other`` when unlisted)."""
    return CLASS_DOMAIN.get(label, "other")
