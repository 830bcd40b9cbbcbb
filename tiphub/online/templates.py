"""Template clustering as InfoShield does it (Lee, Vajiac et al., ICDE 2021), written from the
paper: find the ads that a network writes from one template and show that template with its
slots.

Contacts (e-mail addresses, handles, web addresses, phone numbers) are first replaced by
``[contact]``: they are evidence kept hashed elsewhere, never shown in a template, and a
network's several numbers must not split its template. Ads are then tokenised (words and
punctuation, lower case).

*Coarse stage.* Every run of five consecutive words is a phrase; a phrase found in at least two
ads but in no more than a small share of all ads (common boilerplate says nothing about who
wrote an ad) links those ads, and the connected components of these links are the candidate
groups.

*Fine stage.* Within a component, seeds are taken in order of how many rare phrases they
share. A seed is aligned with the ads sharing a phrase with it (normalised Levenshtein
distance over token-id strings, rapidfuzz); the medoid of a sample of its close neighbours
becomes the candidate template, whose tokens are constant where most neighbours keep them
(Levenshtein opcodes) and *slots* where they differ. Membership is decided by minimum
description length: an ad joins a template only if encoding it as "this template, these slot
values, these edits" costs fewer bits than encoding its words alone (each word costs -log2 of
its corpus frequency; a block of three or more template words that an ad moved elsewhere costs
only pointers back into the template), and only if it keeps most of the template's constant
words. A template is kept only if its members together save more bits than writing the
template costs. An ad already taken moves to a later template that encodes it in fewer bits.
Templates with the same constant words in another order (sentences reordered) are merged. So
a component may split into several templates or yield none; every ad ends in at most one
cluster and singletons are dropped. Work per seed is bounded by its phrase neighbourhood and a
consensus sample, so one huge component costs about as much as many small ones.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SPACES = re.compile(r"\s+")
# Contacts are masked before anything else: they are evidence kept hashed, never shown in a
# template, and a network's several numbers must not split its template in parts.
_AT_CONTACT = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail address
    r"|(?<![\w@])@\w{3,}"  # messenger handle
)
_WEB_CONTACT = re.compile(r"https?://\S+|www\.\S+")
_PHONE_CONTACT = re.compile(r"[+\d][\d \t().-]{6,}\d")
CONTACT_MARK = "[contact]"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

SHINGLE_WORDS = 5
# A phrase in more ads than this share (or than MIN_PHRASE_CAP ads) is boilerplate.
MAX_PHRASE_SHARE = 0.02
MIN_PHRASE_CAP = 200
# Normalised token edit distances: neighbours used for the consensus, ads worth encoding.
CONSENSUS_DISTANCE = 0.5
CANDIDATE_DISTANCE = 0.65
CONSENSUS_SAMPLE = 30
# A member must keep at least this share of the template's constant tokens.
MIN_COVERAGE = 0.6


@dataclass(frozen=True)
class TemplateCluster:
    """Ads written from one template: ``template`` shows the constant text with each slot as
    ``{slotN}``; ``slots`` maps each slot to the distinct values its ads put there."""

    id: str
    template: str
    ad_ids: tuple[str, ...]
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class _Template:
    doc: int
    string: str
    slot_of: list[int]  # slot number per template token, -1 for a constant one
    const_prefix: list[int]  # constant tokens before each position
    slot_starts: list[int]  # slots as token ranges [start, end), in order
    slot_ends: list[int]
    n_constant: int
    cost: float


@dataclass
class _Encoding:
    cost: float
    coverage: float
    slot_spans: dict[int, tuple[int, int]]  # slot -> doc token range


class _Corpus:
    """The tokenised ads, as integer codes in one flat array, with per-token bit costs."""

    def __init__(self, texts: Sequence[str]) -> None:
        tokens = [_TOKEN.findall(text.lower()) for text in texts]
        lengths = np.fromiter((len(item) for item in tokens), dtype=np.int64, count=len(tokens))
        self.starts = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.starts[1:])
        self.lengths = lengths
        flat = list(chain.from_iterable(tokens))
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=False)
        self.codes = codes.astype(np.int64)
        self.is_word = np.fromiter(
            (token[0].isalnum() or token[0] == "_" for token in uniques), dtype=bool, count=len(uniques)
        )
        counts = np.bincount(self.codes, minlength=len(uniques)).astype(np.float64)
        total = max(float(counts.sum()), 1.0)
        self.token_cost = -np.log2(np.maximum(counts, 1.0) / total)
        self.cost_prefix = np.zeros(len(self.codes) + 1)
        np.cumsum(self.token_cost[self.codes], out=self.cost_prefix[1:])
        # Token codes as code points (skipping surrogates) so that an ad is a str for rapidfuzz.
        points = self.codes + 1
        points = np.where(points >= 0xD800, points + 0x800, points)
        points = np.where(points > 0x10FFFF, points % 0xD7FF + 1, points)
        self.points = points.astype("<u4")

    def string(self, doc: int) -> str:
        points: bytes = self.points[self.starts[doc] : self.starts[doc + 1]].tobytes()
        return points.decode("utf-32-le")

    def span_cost(self, doc: int, first: int, last: int) -> float:
        base = self.starts[doc]
        return float(self.cost_prefix[base + last] - self.cost_prefix[base + first])

    def alone_cost(self, doc: int) -> float:
        return self.span_cost(doc, 0, int(self.lengths[doc])) + _length_bits(int(self.lengths[doc]))


def _mask(text: str) -> str:
    mark = CONTACT_MARK
    # The cheap tests skip the slower patterns for the many ads they cannot match.
    if "@" in text:
        text = _AT_CONTACT.sub(mark, text)
    if "://" in text or "www." in text:
        text = _WEB_CONTACT.sub(mark, text)
    return _PHONE_CONTACT.sub(mark, text)


def _length_bits(length: int) -> float:
    """Bits for a length (Elias gamma)."""
    return 2.0 * math.log2(length + 1) + 1.0


class _PhraseIndex:
    """Which kept (rare, shared) phrases each ad has, and which ads have each phrase."""

    def __init__(self, n_docs: int, phrase_docs: np.ndarray, phrase_sizes: np.ndarray) -> None:
        self.phrase_docs = phrase_docs
        self.phrase_ptr = np.r_[0, np.cumsum(phrase_sizes)]
        phrase_of_pair = np.repeat(np.arange(len(phrase_sizes)), phrase_sizes)
        by_doc = np.argsort(phrase_docs, kind="stable")
        self.doc_phrases = phrase_of_pair[by_doc]
        self.doc_ptr = np.searchsorted(phrase_docs[by_doc], np.arange(n_docs + 1))
        self.weights = np.bincount(
            phrase_docs, weights=np.repeat(phrase_sizes - 1.0, phrase_sizes), minlength=n_docs
        )

    def neighbourhood(self, doc: int) -> np.ndarray:
        """The ads sharing at least one kept phrase with ``doc`` (``doc`` included)."""
        phrases = self.doc_phrases[self.doc_ptr[doc] : self.doc_ptr[doc + 1]]
        parts = [self.phrase_docs[self.phrase_ptr[p] : self.phrase_ptr[p + 1]] for p in phrases.tolist()]
        return np.unique(np.concatenate([np.array([doc]), *parts]))


def _components(corpus: _Corpus, n_docs: int) -> tuple[np.ndarray, _PhraseIndex]:
    """Connected components of ads sharing a rare five-word phrase, and the phrase index."""
    words = corpus.is_word[corpus.codes]
    word_codes = corpus.codes[words].astype(np.uint64) + np.uint64(1)
    word_docs = np.repeat(np.arange(n_docs), corpus.lengths)[words]
    empty = _PhraseIndex(n_docs, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(word_codes) < SHINGLE_WORDS:
        return np.arange(n_docs), empty
    windows = len(word_codes) - SHINGLE_WORDS + 1
    hashes = np.zeros(windows, dtype=np.uint64)
    for offset in range(SHINGLE_WORDS):
        hashes = hashes * _MULTIPLIER + word_codes[offset : offset + windows]
    inside = word_docs[:windows] == word_docs[SHINGLE_WORDS - 1 :]
    hashes, docs = hashes[inside], word_docs[:windows][inside]
    order = np.lexsort((docs, hashes))
    hashes, docs = hashes[order], docs[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (docs[1:] != docs[:-1])
    hashes, docs = hashes[first], docs[first]
    if not len(hashes):
        return np.arange(n_docs), empty
    group_start = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    group_size = np.diff(np.r_[group_start, len(hashes)])
    cap = max(MIN_PHRASE_CAP, int(MAX_PHRASE_SHARE * n_docs))
    kept = (group_size >= 2) & (group_size <= cap)
    kept_pair = np.repeat(kept, group_size)
    index = _PhraseIndex(n_docs, docs[kept_pair], group_size[kept])
    head_per_pair = np.repeat(docs[group_start], group_size)
    graph = coo_matrix(
        (np.ones(int(kept_pair.sum()), dtype=np.int8), (head_per_pair[kept_pair], docs[kept_pair])),
        shape=(n_docs, n_docs),
    )
    _, labels = connected_components(graph, directed=False)
    return labels, index


def _build_template(
    corpus: _Corpus, doc: int, neighbours: Sequence[int], strings: dict[int, str]
) -> _Template:
    """The template seen from ``doc``: a token is constant where most neighbours keep it."""
    string = strings[doc]
    kept = np.zeros(len(string), dtype=np.int64)
    others = [other for other in neighbours if other != doc]
    for other in others:
        for opcode in Levenshtein.opcodes(string, strings[other]):
            if opcode.tag == "equal":
                kept[opcode.src_start : opcode.src_end] += 1
    constant = kept * 2 >= len(others) if others else np.ones(len(string), dtype=bool)
    slot_of = [-1] * len(string)
    starts: list[int] = []
    ends: list[int] = []
    for position in range(len(string)):
        if not constant[position]:
            if position == 0 or constant[position - 1]:
                starts.append(position)
                ends.append(position + 1)
            slot_of[position] = len(starts) - 1
            ends[-1] = position + 1
    const_prefix = [0, *np.cumsum(constant).tolist()]
    codes = corpus.codes[corpus.starts[doc] : corpus.starts[doc + 1]]
    cost = (
        float(corpus.token_cost[codes[constant]].sum())
        + _length_bits(len(string))
        + len(starts) * math.log2(len(string) + 1)
    )
    return _Template(doc, string, slot_of, const_prefix, starts, ends, int(constant.sum()), cost)


def _encode(corpus: _Corpus, template: _Template, doc: int, string: str, pointer_bits: float) -> _Encoding:
    """Bits to write ``doc`` as the template plus slot values plus edits."""
    length = len(template.string)
    position_bits = math.log2(length + 1) + 2.0
    slot_of = template.slot_of
    starts, ends = template.slot_starts, template.slot_ends
    const_prefix = template.const_prefix
    slot_first: dict[int, int] = {}
    slot_last: dict[int, int] = {}
    cost = pointer_bits
    kept = 0
    moved = 0

    def add_to_slot(slot: int, first: int, last: int) -> None:
        if last > first:
            slot_first[slot] = min(slot_first.get(slot, first), first)
            slot_last[slot] = max(slot_last.get(slot, last), last)

    for opcode in Levenshtein.opcodes(template.string, string):
        tag, i1, i2 = opcode.tag, opcode.src_start, opcode.src_end
        j1, j2 = opcode.dest_start, opcode.dest_end
        if tag == "equal":
            kept += const_prefix[i2] - const_prefix[i1]
            slot = max(bisect_right(starts, i1) - 1, 0)
            while slot < len(starts) and starts[slot] < i2:
                first, last = max(starts[slot], i1), min(ends[slot], i2)
                if last > first:
                    add_to_slot(slot, j1 + first - i1, j1 + last - i1)
                slot += 1
            continue
        if tag == "insert":
            here = slot_of[i1 - 1] if i1 > 0 else -1
            if here < 0 and i1 < length:
                here = slot_of[i1]
        else:
            here = max(bisect_right(starts, i1) - 1, 0)
            if not (here < len(starts) and starts[here] < i2 and ends[here] > i1):
                here = here + 1 if here + 1 < len(starts) and starts[here + 1] < i2 else -1
        lost = const_prefix[i2] - const_prefix[i1]
        if here >= 0:
            add_to_slot(here, j1, j2)
            if lost:
                cost += position_bits + lost
        else:
            inserted = corpus.span_cost(doc, j1, j2) + (_length_bits(j2 - j1) if j2 > j1 else 0.0)
            copied = _copied_tokens(template.string, string, j1, j2)
            if copied:
                # A moved block (reordered sentences): its words point back into the template.
                inserted -= sum(corpus.span_cost(doc, j, j + 1) for j in copied)
                inserted += len(copied) * math.log2(length + 1)
                moved += len(copied)
            cost += position_bits + lost + inserted
    for slot, first in slot_first.items():
        cost += _length_bits(slot_last[slot] - first) + corpus.span_cost(doc, first, slot_last[slot])
    coverage = min(kept + moved, template.n_constant) / template.n_constant if template.n_constant else 0.0
    spans = {slot: (first, slot_last[slot]) for slot, first in slot_first.items()}
    return _Encoding(cost, coverage, spans)


def _copied_tokens(template: str, string: str, first: int, last: int) -> set[int]:
    """Positions in ``string[first:last]`` inside a run of three or more tokens that also
    occurs in the template."""
    copied: set[int] = set()
    for start in range(first, last - 2):
        if string[start : start + 3] in template:
            copied.update((start, start + 1, start + 2))
    return copied


def _distances(query: str, strings: Sequence[str]) -> np.ndarray:
    distances: np.ndarray = process.cdist(
        [query], strings, scorer=Levenshtein.normalized_distance, dtype=np.float32
    )[0]
    return distances


def _fine_stage(
    corpus: _Corpus, members: np.ndarray, index: _PhraseIndex, rng: random.Random
) -> list[tuple[_Template, list[tuple[int, _Encoding]]]]:
    """Templates found in one component, each with its members' encodings.

    Seeds are taken in order of how many rare phrases they share; a seed's candidates are
    the ads sharing a phrase with it, so the work per seed stays bounded however large the
    component. An ad already in a template moves to a new one that encodes it in fewer bits.
    """
    pointer_bits = math.log2(len(members) + 1)
    strings: dict[int, str] = {}
    alone: dict[int, float] = {}

    def text(doc: int) -> str:
        if doc not in strings:
            strings[doc] = corpus.string(doc)
        return strings[doc]

    def alone_cost(doc: int) -> float:
        if doc not in alone:
            alone[doc] = corpus.alone_cost(doc)
        return alone[doc]

    # doc -> (bits, template number, encoding, distance to the template)
    best: dict[int, tuple[float, int, _Encoding, float]] = {}
    templates: list[_Template] = []
    tried: set[int] = set()
    seeds = sorted((int(doc) for doc in members), key=lambda doc: (-index.weights[doc], doc))
    for seed in seeds:
        if seed in best or seed in tried:
            continue
        tried.add(seed)
        hood = index.neighbourhood(seed).tolist()
        if len(hood) < 2:
            continue
        distance = _distances(text(seed), [text(doc) for doc in hood])
        # The consensus comes from ads near the seed that are free, or nearer the seed than
        # to the template that took them (an earlier, similar template may have taken them).
        close = [
            doc for doc, value in zip(hood, distance, strict=True)
            if value <= CONSENSUS_DISTANCE and (doc not in best or value < best[doc][3])
        ]
        if len(close) < 2:
            continue
        sample = close if len(close) <= CONSENSUS_SAMPLE else rng.sample(close, CONSENSUS_SAMPLE)
        sample_strings = [text(doc) for doc in sample]
        pairwise = process.cdist(
            sample_strings, sample_strings, scorer=Levenshtein.normalized_distance, dtype=np.float32
        )
        medoid = sample[int(np.argmin(pairwise.sum(axis=1)))]
        tried.add(medoid)
        template = _build_template(corpus, medoid, sample, strings)
        candidates = hood if medoid == seed else np.union1d(hood, index.neighbourhood(medoid)).tolist()
        distance = _distances(template.string, [text(doc) for doc in candidates])
        joined: list[tuple[int, _Encoding, float]] = []
        saving = 0.0
        for doc, value in zip(candidates, distance, strict=True):
            if value > CANDIDATE_DISTANCE:
                continue
            current = best.get(doc)
            if current is not None and current[3] <= value:
                continue
            encoding = _encode(corpus, template, doc, text(doc), pointer_bits)
            if encoding.coverage < MIN_COVERAGE or encoding.cost >= alone_cost(doc):
                continue
            before = alone_cost(doc) if current is None else current[0]
            if encoding.cost >= before:
                continue
            joined.append((doc, encoding, float(value)))
            saving += before - encoding.cost
        if len(joined) >= 2 and saving > template.cost:
            number = len(templates)
            templates.append(template)
            for doc, encoding, value in joined:
                best[doc] = (encoding.cost, number, encoding, value)
    grouped: dict[int, list[tuple[int, _Encoding]]] = {}
    for doc, (_, number, encoding, _) in sorted(best.items()):
        grouped.setdefault(number, []).append((doc, encoding))
    # Templates with the same constant words in another order are one template whose
    # sentences some ads reorder: merge them into the one with more ads.
    by_words: dict[tuple[int, ...], list[int]] = {}
    for number in sorted(grouped, key=lambda number: (-len(grouped[number]), number)):
        by_words.setdefault(_constant_words(corpus, templates[number]), []).append(number)
    merged: list[tuple[_Template, list[tuple[int, _Encoding]]]] = []
    for numbers in by_words.values():
        main = templates[numbers[0]]
        found = list(grouped[numbers[0]])
        for other in numbers[1:]:
            found += [(doc, _encode(corpus, main, doc, text(doc), pointer_bits)) for doc, _ in grouped[other]]
        if len(found) >= 2:
            merged.append((main, sorted(found, key=lambda pair: pair[0])))
    return merged


def _constant_words(corpus: _Corpus, template: _Template) -> tuple[int, ...]:
    codes = corpus.codes[corpus.starts[template.doc] : corpus.starts[template.doc + 1]]
    constant = np.array(template.slot_of) < 0
    words = codes[constant]
    return tuple(sorted(words[corpus.is_word[words]].tolist()))


def _display_tokens(text: str, expected: int) -> tuple[str, list[tuple[int, int]]]:
    """The text's token spans for display, consistent with the lower-cased tokens counted."""
    spans = [match.span() for match in _TOKEN.finditer(text)]
    if len(spans) == expected:
        return text, spans
    lowered = text.lower()
    return lowered, [match.span() for match in _TOKEN.finditer(lowered)]


def _render_template(
    text: str, spans: list[tuple[int, int]], slot_of: list[int]
) -> tuple[str, list[int]]:
    """Template text with each slot shown once as ``{slotN}``; returns the slots' numbering."""
    pieces: list[str] = []
    numbering: list[int] = []
    previous_end: int | None = None
    for position, (start, end) in enumerate(spans):
        separator = "" if previous_end is None else (" " if text[previous_end:start].strip() == "" and start > previous_end else "")
        slot = int(slot_of[position])
        if slot >= 0:
            if position > 0 and int(slot_of[position - 1]) == slot:
                previous_end = end
                continue
            numbering.append(slot)
            pieces.append(f"{separator}{{slot{len(numbering)}}}")
        else:
            pieces.append(separator + text[start:end])
        previous_end = end
    return _SPACES.sub(" ", "".join(pieces)).strip(), numbering


def cluster_templates(ad_ids: Sequence[str], texts: Sequence[str]) -> list[TemplateCluster]:
    """Group ads written from a shared template; each ad lands in at most one cluster and
    clusters of one ad are left out. Clusters come largest first; a cluster's id is stable
    for the same members ("t-" and a hash of the sorted ad ids)."""
    if len(ad_ids) != len(texts):
        raise ValueError("ad_ids and texts must have the same length")
    if len(set(ad_ids)) != len(ad_ids):
        raise ValueError("ad_ids must be unique")
    n_docs = len(texts)
    if n_docs < 2:
        return []
    texts = [_mask(text) for text in texts]
    corpus = _Corpus(texts)
    labels, index = _components(corpus, n_docs)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True])
    clusters: list[TemplateCluster] = []
    rng = random.Random(0)
    for start, stop in pairwise(bounds):
        members = order[start:stop]
        if len(members) < 2:
            continue
        for template, found in _fine_stage(corpus, members, index, rng):
            clusters.append(_describe(corpus, template, found, ad_ids, texts))
    clusters.sort(key=lambda cluster: (-len(cluster.ad_ids), cluster.id))
    return clusters


def _describe(
    corpus: _Corpus, template: _Template, found: list[tuple[int, _Encoding]],
    ad_ids: Sequence[str], texts: Sequence[str],
) -> TemplateCluster:
    seed_text, seed_spans = _display_tokens(texts[template.doc], len(template.string))
    shown, numbering = _render_template(seed_text, seed_spans, template.slot_of)
    values: dict[int, set[str]] = {slot: set() for slot in numbering}
    for doc, encoding in found:
        if not encoding.slot_spans:
            continue
        text, spans = _display_tokens(texts[doc], int(corpus.lengths[doc]))
        for slot, (first, last) in encoding.slot_spans.items():
            if slot in values:
                values[slot].add(_SPACES.sub(" ", text[spans[first][0] : spans[last - 1][1]]).strip())
    members = tuple(sorted(ad_ids[doc] for doc, _ in found))
    digest = hashlib.sha256("\n".join(members).encode()).hexdigest()[:12]
    slots = {f"slot{number}": tuple(sorted(values[slot])) for number, slot in enumerate(numbering, 1)}
    return TemplateCluster(id=f"t-{digest}", template=shown, ad_ids=members, slots=slots)
