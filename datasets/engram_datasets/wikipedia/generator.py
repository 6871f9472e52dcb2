"""Same-schema synthetic documents, used when the real sample is absent.

Each document is a short paragraph drawn from a small vocabulary of its DBpedia class (plus a
shared domain vocabulary and common filler words), so documents of one class, and to a lesser
degree of one domain, share terms and cluster under TF-IDF.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .schema import COLUMNS, TOPICAL_DOMAINS

_DOMAIN_WORDS: dict[str, str] = {
    "science": "species genus family research discovered described native habitat observed scientific "
    "biology classification specimen population evolution organism",
    "history": "elected served government minister party parliament office politician court reign "
    "appointed council district election state royal",
    "arts": "released album film novel artist band recorded directed published songs studio painter "
    "written stage music label",
    "other": "company located village building founded team season club river town school "
    "station network league county",
}
_CLASS_WORDS: dict[str, dict[str, str]] = {
    "science": {
        "Animal": "moth beetle snail bird wings larvae insect predator feeds marine",
        "Plant": "flowering shrub leaves petals seeds herb fern tree grows perennial",
        "CelestialBody": "asteroid orbit planet star galaxy telescope comet crater belt magnitude",
        "Scientist": "professor physicist chemist university laboratory theory awarded journal thesis",
    },
    "history": {
        "OfficeHolder": "governor mayor senator term cabinet ambassador secretary deputy treasury",
        "Politician": "candidate campaign legislature assembly representative constituency liberal",
        "BritishRoyalty": "prince princess duke duchess king queen crown throne dynasty consort",
        "Cleric": "bishop archbishop church diocese priest cardinal pope parish ordained abbot",
    },
    "arts": {
        "Album": "tracks debut singles producer chart billboard vinyl guitar vocals tour",
        "Film": "comedy drama starring cinema screenplay actor actress box office premiere",
        "Writer": "author poet essays fiction novels literary poems prize journalist memoir",
        "Artist": "painting sculptor exhibition gallery canvas portrait museum drawings modernist",
    },
    "other": {
        "Company": "corporation headquarters products subsidiary employees brand industry market",
        "Village": "population census municipality rural province parish inhabitants hamlet",
        "Athlete": "player footballer goals olympic championship coach tournament medal",
        "Building": "tower architect historic built storey hall constructed listed church",
    },
}
_FILLER = [
    "the",
    "of",
    "and",
    "in",
    "a",
    "is",
    "was",
    "an",
    "by",
    "to",
    "for",
    "from",
    "with",
    "at",
    "as",
    "its",
    "which",
]


def _paragraph(
    rng: np.random.Generator, class_words: list[str], domain_words: list[str], n_words: int
) -> str:
    pools = (class_words, domain_words, _FILLER)
    choice = rng.choice(3, size=n_words, p=[0.35, 0.25, 0.40])
    words = [pools[c][rng.integers(len(pools[c]))] for c in choice]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def generate_wikipedia(
    n_per_domain: int = 300,
    *,
    domains: Iterable[str] = TOPICAL_DOMAINS,
    seed: int = 0,
    words: tuple[int, int] = (25, 70),
) -> pd.DataFrame:
    """``n_per_domain`` synthetic records per domain with the real sample's columns.

    ``id`` is ``synthetic-{domain}-{i:05d}``, ``title`` is ``None`` (as in the real data),
    ``label`` one of four classes per domain, ``source`` ``"synthetic"``. Same seed -> same frame.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for domain in domains:
        classes = _CLASS_WORDS[domain]
        labels = sorted(classes)
        dwords = _DOMAIN_WORDS[domain].split()
        for i in range(n_per_domain):
            label = labels[int(rng.integers(len(labels)))]
            n = int(rng.integers(words[0], words[1] + 1))
            rows.append(
                {
                    "id": f"synthetic-{domain}-{i:05d}",
                    "title": None,
                    "text": _paragraph(rng, classes[label].split(), dwords, n),
                    "label": label,
                    "domain": domain,
                    "source": "synthetic",
                }
            )
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["title"] = df["title"].astype(object)
    return df
