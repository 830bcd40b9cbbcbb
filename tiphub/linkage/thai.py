"""Thai script romanised the way the Royal Thai General System (RTGS) writes personal names.

``unidecode`` maps Thai letter by letter ("สมศักดิ์" becomes "smskdi'"), so a survivor written
in Thai by one agency and as "Somsak" by another never agree. Thai writes no vowel between many
consonants and marks silent letters, so a name is romanised syllable by syllable: explicit
vowels (including those written before their consonant), the value a consonant has at the
start and at the end of a syllable, and the unwritten vowel ('o' in a closed syllable, 'a' in
an open one). Thai has no spaces between syllables, so where a syllable ends is guessed; the
guesses are tuned to names and are right for most, not all (Pali and Sanskrit names sound
linking vowels that the script does not show).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")
_TONE_AND_SIGNS = re.compile(r"[\u0e48-\u0e4b\u0e2f\u0e46\u0e4d\u0e4e\u0e4f\u0e50-\u0e5b]")
# A letter marked silent (thanthakhat), with the vowel written on it.
_SILENT = re.compile(r"[ก-ฮ][ิุ]?์")
# "จันทร์": with the marked letter gone, the syllable would end in two consonants; the second
# is silent too.
_SILENT_BEFORE_SILENT = re.compile(r"(ั[ก-ฮ])[ก-ฮ](?=[ก-ฮ][ิุ]?์)|([ิุ][ก-ฮ])[ก-ฮ](?=ร์)")

_INITIAL = {
    "ก": "k", "ข": "kh", "ฃ": "kh", "ค": "kh", "ฅ": "kh", "ฆ": "kh", "ง": "ng",
    "จ": "ch", "ฉ": "ch", "ช": "ch", "ซ": "s", "ฌ": "ch", "ญ": "y", "ฎ": "d", "ฏ": "t",
    "ฐ": "th", "ฑ": "th", "ฒ": "th", "ณ": "n", "ด": "d", "ต": "t", "ถ": "th", "ท": "th",
    "ธ": "th", "น": "n", "บ": "b", "ป": "p", "ผ": "ph", "ฝ": "f", "พ": "ph", "ฟ": "f",
    "ภ": "ph", "ม": "m", "ย": "y", "ร": "r", "ฤ": "r", "ล": "l", "ฦ": "l", "ว": "w",
    "ศ": "s", "ษ": "s", "ส": "s", "ห": "h", "ฬ": "l", "อ": "", "ฮ": "h",
}  # fmt: skip
_FINAL = {
    "ก": "k", "ข": "k", "ฃ": "k", "ค": "k", "ฅ": "k", "ฆ": "k", "ง": "ng",
    "จ": "t", "ฉ": "t", "ช": "t", "ซ": "t", "ฌ": "t", "ญ": "n", "ฎ": "t", "ฏ": "t",
    "ฐ": "t", "ฑ": "t", "ฒ": "t", "ณ": "n", "ด": "t", "ต": "t", "ถ": "t", "ท": "t",
    "ธ": "t", "น": "n", "บ": "p", "ป": "p", "ผ": "p", "ฝ": "p", "พ": "p", "ฟ": "p",
    "ภ": "p", "ม": "m", "ย": "i", "ร": "n", "ล": "n", "ว": "o", "ศ": "t", "ษ": "t",
    "ส": "t", "ห": "", "ฬ": "n", "อ": "", "ฮ": "",
}  # fmt: skip

_LEADING_VOWELS = frozenset("เแโใไ")
_VOWEL_MARKS = frozenset("ะัาำิีึืุู็ฤ")
# What may follow the initial to complete each leading vowel ("เ-ีย", "แ-็", "โ-ะ").
_VOWEL_AFTER_LEAD = {"เ": "ีืิาอ็ะ", "แ": "็ะ", "โ": "ะ", "ใ": "", "ไ": ""}
_SONORANTS = frozenset("งญนมยรลว")
# Pairs read as one initial ("prasit", "khwan"); any other pair has an unwritten 'a' between.
_CLUSTERS = frozenset(
    {a + b for a in "กขค" for b in "รลว"}
    | {a + "ร" for a in "ตดบป"}
    | {a + b for a in "ปพผบ" for b in "ล"}
    | {"พร", "ฟร", "ฟล"}
)
# Final stops that Pali and Sanskrit names also sound at the start of the next syllable
# ("รัตนา" is rat-ta-na, "บุษบา" but-sa-ba).
_LINKING = frozenset("ตทธถฐฒษศส")
# After a short vowel these begin the next syllable rather than end this one ("สุรชัย", "ศุภชัย",
# "ปิยบุตร").
_OPEN_AFTER_SHORT = frozenset("รภย")
# Spellings no rule of thumb reads right; keyed by the whole written word part.
_IRREGULAR: dict[str, tuple[str, str]] = {
    # (alone, joined to what follows)
    "พรหม": ("phrom", "phrom"),
    "เกียรติ": ("kiat", "kiatti"),
}
_IRREGULAR_PATTERN = re.compile("|".join(sorted(_IRREGULAR, key=len, reverse=True)))


@dataclass
class _Syllable:
    """A written vowel with its initial; ``bare`` is a consonant with no vowel written."""

    letter: str
    onset: str
    vowel: str = ""
    bare: bool = False
    may_close: bool = True
    must_close: bool = False
    short: bool = False
    nasal_if_open: bool = False
    led: bool = False


def _at(word: str, i: int) -> str:
    """The character at ``i``, or a space past the end (a space is in no letter class)."""
    return word[i] if i < len(word) else " "


def _onset(word: str, i: int, *, lead: bool = False, cluster: bool = True) -> tuple[str, str, int]:
    """(first letter, romanised initial, index after it) of the syllable starting at ``i``."""
    first, second, after = _at(word, i), _at(word, i + 1), _at(word, i + 2)
    # "หญิง", "หลวง": h before a sonorant is written, not said.
    if first == "ห" and second in _SONORANTS and (after in _VOWEL_MARKS or after in "อว"):
        return second, _INITIAL[second], i + 2
    # "ศรี", "เศรษฐา": r after s is not said.
    if first in "ศสท" and second == "ร" and (after in _VOWEL_MARKS or lead):
        return first, "s", i + 2
    # After a leading vowel an r or l cluster may be followed by the final ("เปรม", "เพลง");
    # ใ and ไ take no final, so what follows them is always the initial ("ไกร").
    if (
        cluster
        and first + second in _CLUSTERS
        and (
            after in _VOWEL_MARKS
            or (lead and second != "ว" and after in _INITIAL)
            or (lead and i > 0 and word[i - 1] in "ใไ")
        )
    ):
        return first, _INITIAL[first] + _INITIAL[second], i + 2
    return first, _INITIAL.get(first, ""), i + 1


def _leading_vowel(word: str, lead: str, j: int) -> tuple[str, int, bool, bool]:
    """(vowel, index after it, may close, must close) of a syllable whose vowel starts ``lead``."""
    nxt, nxt2 = _at(word, j), _at(word, j + 1)
    if lead in "ใไ":
        return "ai", j, False, False
    if lead == "โ":
        return ("o", j + 1, False, False) if nxt == "ะ" else ("o", j, True, False)
    if lead == "แ":
        if nxt == "ะ":
            return "ae", j + 1, False, False
        return ("ae", j + 1, True, True) if nxt == "็" else ("ae", j, True, False)
    if nxt == "ี" and nxt2 == "ย":
        return "ia", j + 2 + (_at(word, j + 2) == "ะ"), True, False
    if nxt == "ื" and nxt2 == "อ":
        return "uea", j + 2 + (_at(word, j + 2) == "ะ"), True, False
    if nxt == "ิ":
        return "oe", j + 1, True, False
    if nxt == "า":
        return ("o", j + 2, False, False) if nxt2 == "ะ" else ("ao", j + 1, False, False)
    if nxt == "อ":
        return "oe", j + 1 + (nxt2 == "ะ"), False, False
    if nxt == "็":
        return "e", j + 1, True, True
    if nxt == "ะ":
        return "e", j + 1, False, False
    return "e", j, True, False


def _syllables(word: str) -> list[_Syllable]:
    out: list[_Syllable] = []
    i = 0
    while i < len(word):
        char = word[i]
        if char in _LEADING_VOWELS:
            if i + 1 >= len(word) or word[i + 1] not in _INITIAL:
                out.append(_Syllable("อ", "", "ai" if char in "ใไ" else "e", may_close=False))
                i += 1
                continue
            letter, onset, j = _onset(word, i + 1, lead=True)
            second, after = _at(word, j), _at(word, j + 1)
            # "เฉลิม" is cha-loem: a pair that is no cluster sounds an 'a' after the first.
            if second in _INITIAL and after in _VOWEL_AFTER_LEAD[char] and second not in "ยอ":
                out.append(_Syllable(letter, onset, "a", may_close=False))
                letter, onset, j = _onset(word, j)
            vowel, j, may_close, must_close = _leading_vowel(word, char, j)
            out.append(
                _Syllable(
                    letter, onset, vowel, may_close=may_close, must_close=must_close, led=True
                )
            )
            # "ไทย": a final ย after ไ is written, not said.
            if char in "ใไ" and _at(word, j) == "ย" and _at(word, j + 1) not in _VOWEL_MARKS:
                j += 1
            i = j
            continue
        if char == "ฤ":
            out.append(_Syllable("ร", "r", "i", short=True))
            i += 1
            continue
        if char not in _INITIAL:
            i += 1
            continue
        # "สุขรักษ์", "นาครักษ์": a consonant that can end the syllable before starts no cluster.
        letter, onset, j = _onset(word, i, cluster=_wants_no_final(out))
        nxt, nxt2, nxt3 = _at(word, j), _at(word, j + 1), _at(word, j + 2)
        syllable = _Syllable(letter, onset)
        if nxt == "ั":
            if nxt2 == "ว" and nxt3 not in _VOWEL_MARKS:
                syllable.vowel, j = "ua", j + 2 + (nxt3 == "ะ")
            else:
                syllable.vowel, syllable.must_close, syllable.short, j = "a", True, True, j + 1
        elif nxt == "ำ":
            syllable.vowel, syllable.may_close, j = "am", False, j + 1
        elif nxt == "ะ":
            syllable.vowel, syllable.may_close, j = "a", False, j + 1
        elif nxt == "า":
            syllable.vowel, j = "a", j + 1
        elif nxt in "ิี":
            syllable.vowel, syllable.short, j = "i", nxt == "ิ", j + 1
        elif nxt in "ึื":
            syllable.vowel, syllable.short, j = "ue", nxt == "ึ", j + 1
            if nxt == "ื" and nxt2 == "อ" and nxt3 not in _VOWEL_MARKS:
                j += 1
        elif nxt in "ุู":
            syllable.vowel, syllable.short, j = "u", nxt == "ุ", j + 1
        elif nxt == "ฤ":
            syllable.vowel, syllable.short, j = "ri", True, j + 1
        elif nxt == "็":
            syllable.vowel, syllable.may_close, j = "o", False, j + 1
        elif nxt == "อ" and nxt2 not in _VOWEL_MARKS:
            syllable.vowel, j = "o", j + 1
        elif nxt == "ร" and nxt2 == "ร" and char != "ร":
            syllable.vowel, syllable.must_close, syllable.nasal_if_open, j = "a", True, True, j + 2
        elif (
            nxt == "ว"
            and (not out or not (out[-1].bare or out[-1].may_close or out[-1].must_close))
            and nxt2 in _INITIAL
            and nxt3 not in _VOWEL_MARKS
            and nxt3 != "อ"
            and nxt2 + nxt3 != "รร"
        ):
            syllable.vowel, j = "ua", j + 1
        else:
            syllable.bare = True
        out.append(syllable)
        i = j
    # "ชาติ", "สมบัติ": ติ after a syllable that lacks its end is that end, said as "t".
    for k in range(1, len(out)):
        syllable, before = out[k], out[k - 1]
        if (
            syllable.letter in "ตธ"
            and syllable.vowel in ("i", "u")
            and syllable.short
            and not before.bare
            and (before.must_close or (before.may_close and not before.short))
        ):
            out[k] = _Syllable(syllable.letter, syllable.onset, bare=True)
    return out


def _wants_no_final(before: list[_Syllable]) -> bool:
    """Whether a consonant after ``before`` starts a syllable rather than ending the last one."""
    return not before or before[-1].bare or not (before[-1].may_close or before[-1].must_close)


def _run(letters: list[str], at_end: bool) -> str:
    """Consonants with no vowel written: 'Co' + final in pairs, a lone one with 'a'."""
    parts = []
    k = 0
    # "สม" opens more Thai names than any other part: สมสกุล is som-sa-kun, not sa-mot-kun.
    if len(letters) % 2 == 1 and len(letters) > 1 and not at_end and letters[:2] == ["ส", "ม"]:
        parts.append("som")
        k = 2
    while k < len(letters):
        remaining = len(letters) - k
        if remaining == 1:
            parts.append(_INITIAL[letters[k]] + "a")
            k += 1
        elif remaining % 2 == 0 or letters[k + 1] == "ง":
            parts.append(_INITIAL[letters[k]] + "o" + _FINAL.get(letters[k + 1], ""))
            k += 2
        else:
            parts.append(_INITIAL[letters[k]] + "a")
            k += 1
    return "".join(parts)


def _same_sound(first: str, second: str) -> bool:
    return _INITIAL.get(first, "").rstrip("h") == _INITIAL.get(second, "").rstrip("h")


def _romanise_word(word: str) -> str:
    syllables = _syllables(word)
    parts: list[str] = []
    i = 0
    while i < len(syllables):
        syllable = syllables[i]
        start = i
        if not syllable.bare:
            parts.append(syllable.onset + syllable.vowel)
            start = i + 1
        end = start
        while end < len(syllables) and syllables[end].bare:
            end += 1
        run = [s.letter for s in syllables[start:end]]
        at_end = end == len(syllables)
        following = syllables[end].letter if not at_end else ""
        if not syllable.bare and (syllable.may_close or syllable.must_close):
            closing = _closes(syllable, run, at_end)
            if closing:
                final = run.pop(0)
                parts.append(_FINAL.get(final, ""))
                # "เพชร", "บุตร": an r after the final is not said.
                if run and run[0] == "ร":
                    run.pop(0)
                nxt = run[0] if run else following
                # Thai allows no final before an initial r: "พัชรี" is phat-cha-ri.
                stop = _FINAL.get(final, "") in ("k", "t", "p")
                linking = final in _LINKING or (syllable.must_close and final == "ล")
                if (syllable.must_close and nxt == "ร" and stop) or (
                    (syllable.must_close or syllable.short)
                    and linking
                    and nxt
                    and not _same_sound(final, nxt)
                ):
                    parts.append(_INITIAL.get(final, "") + "a")
                # "ลักษณ์": a second consonant after the final is not said.
                if at_end and len(run) == 1:
                    run.pop(0)
            elif syllable.nasal_if_open:
                parts.append("n")
            elif syllable.must_close and following and not run:
                parts.append(_FINAL.get(following, ""))
        if run:
            parts.append(_run(run, at_end))
        i = end
    return "".join(parts)


def _closes(syllable: _Syllable, run: list[str], at_end: bool) -> bool:
    """Whether the first of the vowel-less consonants after ``syllable`` ends it."""
    if not run:
        return False
    if at_end and len(run) == 2:
        # "บรรจง" is ban-chong, "ธนากร" tha-na-kon; but "เพชร" is phet, "สมัคร" sa-mak and
        # "บุตร" but.
        return run[1] == "ร" and (
            syllable.led or run[0] == "ต" or (syllable.must_close and not syllable.nasal_if_open)
        )
    if syllable.must_close:
        return True
    first = run[0]
    if first == "ร" and not (at_end and len(run) == 1):
        return False
    # Sanskrit name parts open with s + 'a' ("ศรีสวัสดิ์" si-sa-wat); s rarely ends a vowel inside
    # a name ("บุษบา" but-sa-ba, "เศรษฐา" set-tha are the exceptions).
    if not at_end and (first == "ส" or (first in "ศษ" and not syllable.short and not syllable.led)):
        return False
    return not (syllable.short and first in _OPEN_AFTER_SHORT and not at_end)


def _romanise_run(run: str) -> str:
    # ำ is sometimes typed as its two parts, nikhahit and sara aa.
    text = _TONE_AND_SIGNS.sub("", run.replace("\u0e4d\u0e32", "\u0e33"))
    text = _SILENT_BEFORE_SILENT.sub(lambda match: match.group(1) or match.group(2), text)
    # A silent letter ends its syllable for sure: what follows starts afresh ("สวัสดิ์บุญ").
    return "".join(_romanise_piece(piece) for piece in _SILENT.sub("|", text).split("|"))


def _romanise_piece(text: str) -> str:
    text = text.replace("์", "")
    parts = []
    position = 0
    for match in _IRREGULAR_PATTERN.finditer(text):
        if match.start() > position:
            parts.append(_romanise_word(text[position : match.start()]))
        alone, joined = _IRREGULAR[match.group()]
        parts.append(joined if match.end() < len(text) else alone)
        position = match.end()
    if position < len(text):
        parts.append(_romanise_word(text[position:]))
    return "".join(parts)


@lru_cache(maxsize=100_000)
def romanise_thai(text: str) -> str:
    """RTGS-style romanisation of the Thai in ``text``; other characters are kept as written.

    "สมศักดิ์ แสงสวัสดิ์บุญ" becomes "somsak saengsawatbun".
    """
    return _THAI_RUN.sub(
        lambda match: _romanise_run(match.group()), unicodedata.normalize("NFC", text)
    )
