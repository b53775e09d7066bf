"""Names for screening: one normal form, and a fuzzy score between two normal forms.

The normal form folds case (casefold: "ß" -> "ss"), strips accents (NFKD, then combining
marks dropped; a few letters that do not decompose, such as "ø" and "ł", are mapped by
hand), deletes apostrophes and dots ("O'Brien" -> "obrien", "U.S." -> "us"), turns every
other punctuation into a space, and sorts the tokens: "Müller-Lüdenscheidt, Hans" and "hans
mueller ludenscheidt" differ only by what a fuzzy ratio measures. Sorting makes the order
of the tokens irrelevant (surname first or last, as lists and payers write them).

Score: the better of two rapidfuzz measures, 0-100.
- `ratio` of the sorted forms: one edit distance over the whole name, so a typo or a
  transliteration variant ("Usama"/"Osama", "Pyotr"/"Petr") costs a few points.
- `token_set_ratio`: a name that contains the other ("Abu Bakr al-Baghdadi" for "Abu Bakr
  Baghdadi") scores 100. Only counted when the shorter name has at least
  MIN_SUBSET_TOKENS tokens, or one common first name ("Ali") would hit every listed Ali.

MATCH_THRESHOLD = 85 was chosen on such pairs: one wrong letter in a name of eight or more
letters scores 87-96, transliterations 86-88, while two different people who share a
surname ("John Smith"/"Jane Smith") score 80. A hit holds the payment for a person to
review, so the threshold leans towards recall. FISCUS_SANCTIONS_MATCH_THRESHOLD moves it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

MATCH_THRESHOLD = 85.0
MIN_SUBSET_TOKENS = 2
# Letters NFKD leaves whole, with the Latin spelling lists use for them.
_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "\u0131": "i"}
)
# Apostrophes (straight, curly, grave, acute) and dots join the letters around them.
_JOINERS = re.compile("['\u2019\u2018`\u00b4.]")
_SEPARATORS = re.compile(r"[\W_]+")


def name_normalize(name: str) -> str:
    """The normal form of a name: folded, unaccented, unpunctuated, tokens sorted."""
    # Joiners go first: NFKD would turn the acute accent into a space and a combining mark.
    joined = _JOINERS.sub("", name.casefold().translate(_LETTERS))
    folded = unicodedata.normalize("NFKD", joined)
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(sorted(_SEPARATORS.sub(" ", bare).split()))


@dataclass(frozen=True, slots=True)
class Match:
    """One candidate name (by position) that scored at or above the threshold."""

    index: int
    score: float


class NameIndex:
    """Normal forms to screen against, with the positions of the names holding each token.

    The edit-distance measure runs over every name in rapidfuzz's C++ loop (a few
    milliseconds for tens of thousands). The subset measure costs ten times more per name,
    and can only beat the first where the two names share a token, so it runs on the names
    that share one with the query (the token index finds them).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.by_token: dict[str, list[int]] = {}
        for position, key in enumerate(self.keys):
            for token in set(key.split()):
                self.by_token.setdefault(token, []).append(position)

    def matches(self, query: str, *, threshold: float) -> list[Match]:
        """Every name (by position) scoring >= threshold against `query`, a normal form."""
        if not query:
            return []
        best: dict[int, float] = {}
        for _, score, index in process.extract(
            query, self.keys, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        ):
            best[index] = score
        tokens = query.split()
        sharing = {i: self.keys[i] for t in set(tokens) for i in self.by_token.get(t, ())}
        for _, score, index in process.extract(
            query, sharing, scorer=fuzz.token_set_ratio, score_cutoff=threshold, limit=None
        ):
            shorter = min(len(tokens), self.keys[index].count(" ") + 1)
            if shorter >= MIN_SUBSET_TOKENS and score > best.get(index, 0.0):
                best[index] = score
        return [Match(index, score) for index, score in best.items()]
