"""Built-in aliases every topic can name (pure): countries and the field's vocabulary.

`@country:ru` stands for Russia's names in every language feedwatch reads, and
the adjectives where the data has them, all taken from the Unicode CLDR
through babel (never typed here): "Russia", "Russland", "Russie", "Россия",
"러시아", "ロシア", "俄罗斯", "Nga" …; "russia*" also finds "Russian", and
CLDR's name of the country's own language, where it is the adjective and is
the name of no other country's language ("Russian", "russisch", "русский"),
is added. CLDR has no capitals, so none are here: a topic names the ones it
wants ("moscow", "kremlin"), which in news are the government more than the city.

`@vocab:troops` (`vocabulary.yaml`) is this field's common vocabulary, written
once for every topic in the same languages: troops, weapons, munitions,
missiles, drones, jets, warships, exercises, patrols, treaties, visits,
summits, sanctions, supply, deploy, cooperation, defence, technology.

In topics.yaml, an alias list may name another list, built-in or not:
`china: [china, beijing, "@country:cn"]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

import yaml
from babel import Locale
from babel.core import get_global

from extractors.errors import TopicSyntaxError

__all__ = [
    "LANGUAGES",
    "builtin",
    "builtin_names",
    "country_codes",
    "resolve_aliases",
    "vocabulary",
]

# The languages whose names for countries a built-in country alias holds: those
# feedwatch's readers bring most (docs/topics.md), in CLDR's locale names.
LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "bg",
    "ko", "ja", "zh", "zh_Hant", "vi", "tr", "ar", "fa", "hi",
)  # fmt: skip

# Where a name grows endings (Russlands, russische) and CLDR's name of a language is
# also the adjective (Russian, russisch, русский): not so in Turkish (Rusça is the
# language), Vietnamese, Arabic, Hindi, Korean, Japanese or Chinese.
_INFLECTED = frozenset(("en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "bg"))
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AQ"}
_LATIN = re.compile(r"[A-Za-zÀ-ɏ' -]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff -]+")
_REFERENCE = re.compile(r"@([\w:-]+)")


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@cache
def country_codes() -> tuple[str, ...]:
    """ISO 3166 codes CLDR names, lower case (`ru`, `cn`, `kp`)."""
    return tuple(
        sorted(
            str(c).lower()
            for c in _locale("en").territories
            if len(str(c)) == 2 and str(c).isalpha() and c not in _NOT_COUNTRIES
        )
    )


@cache
def _official_languages() -> dict[str, list[str]]:
    """Language → the territories where it is official."""
    where: dict[str, list[str]] = {}
    for territory, langs in get_global("territory_languages").items():
        for lang, info in langs.items():
            if (info.get("official_status") or "").startswith("official"):
                where.setdefault(lang.split("_")[0], []).append(territory)
    return where


@cache
def _names(loc: str) -> dict[str, str]:
    """Country code → its name in lower case, in one language."""
    return {
        str(c): str(n).lower()
        for c, n in _locale(loc).territories.items()
        if len(str(c)) == 2 and str(c).isalpha()
    }


@cache
def _likely_languages() -> dict[str, list[str]]:
    """Territory → the official languages whose most likely territory it is."""
    where: dict[str, list[str]] = {}
    likely = get_global("likely_subtags")
    for lang in _official_languages():
        territory = likely.get(lang, "").rpartition("_")[2]
        where.setdefault(territory, []).append(lang)
    return where


def _adjective_language(code: str) -> str | None:
    """The language whose CLDR name is this country's adjective: official here, its
    most likely territory is this one, and its English name starts like the country's
    (Russia/Russian, China/Chinese, Ukraine/Ukrainian; not Korea/Korean, whose name
    is in two countries' names)."""
    code = code.upper()
    english = _locale("en")
    names = _names("en")
    own = names[code]
    for lang in _likely_languages().get(code, []):
        lname = (english.languages.get(lang) or "").lower()
        stem = lname[:4]
        if len(stem) < 4 or not any(w.startswith(stem) for w in own.split()):
            continue
        shared = [  # parts of this country (Hong Kong SAR China) aside
            c
            for c, n in names.items()
            if any(w.startswith(stem) for w in n.split()) and (c == code or own not in n)
        ]
        if len(shared) == 1:
            return lang
    return None


@cache
def country(code: str) -> tuple[str, ...]:
    """Every term of `@country:<code>`: names in each language, adjectives where CLDR
    has them. Terms as topics.yaml writes them (prefixes with *)."""
    code = code.upper()
    adjective = _adjective_language(code)
    terms: list[str] = []
    for loc in LANGUAGES:
        locale = _locale(loc)
        name = _names(loc).get(code)
        if not name:
            continue
        if loc in _INFLECTED and _LATIN.fullmatch(name) and len(name) >= (4 if loc == "en" else 6):
            # English and its neighbours make adjectives by adding to the name
            # (russia → russian, north korea → north korean); only where no other
            # country's name starts the same way (niger, nigeria).
            others = {n for c, n in _names(loc).items() if c != code and n.startswith(name)}
            terms.append(name if others else name + "*")
        else:
            terms.append(name)
        if adjective and loc in _INFLECTED:
            lname = (locale.languages.get(adjective) or "").lower()
            if _LATIN.fullmatch(lname) and " " not in lname:
                terms.append(lname + "*")
            elif _CYRILLIC.fullmatch(lname) and " " not in lname:
                terms.append(lname)  # Russian endings are folded by the matcher
    return tuple(dict.fromkeys(terms))


@cache
def vocabulary() -> dict[str, tuple[str, ...]]:
    """The field's common vocabulary: list name → terms, every language in one list."""
    raw = yaml.safe_load(
        resources.files("extractors.topics").joinpath("vocabulary.yaml").read_text("utf-8")
    )
    return {name: tuple(str(t) for t in terms) for name, terms in raw.items()}


def builtin_names() -> list[str]:
    """The names of the built-in aliases, as a query writes them."""
    return [f"country:{c}" for c in country_codes()] + [f"vocab:{v}" for v in vocabulary()]


def builtin(name: str) -> tuple[str, ...] | None:
    """The terms of a built-in alias (`country:ru`, `vocab:troops`), or None."""
    kind, _, key = name.partition(":")
    if kind == "country" and key.lower() in country_codes():
        return country(key.lower())
    if kind == "vocab":
        return vocabulary().get(key)
    return None


def resolve_aliases(
    aliases: Mapping[str, Sequence[str]], query: str, topic: str = "<query>"
) -> dict[str, list[str]]:
    """The alias lists a query can use, each flattened: the topic's own lists, and the
    built-in lists its query or its lists name. Entries `@name` in a list are replaced
    by that list's terms. Raises TopicSyntaxError on an unknown or circular reference."""
    resolved: dict[str, list[str]] = {}

    def terms(name: str, trail: tuple[str, ...]) -> list[str]:
        if name in resolved:
            return resolved[name]
        if name in trail:
            raise TopicSyntaxError(
                f"alias @{name} names itself through {' → '.join('@' + t for t in trail)}",
                topic=topic,
                position=0,
                query=query,
            )
        own = aliases.get(name)
        if own is None:
            found = builtin(name)
            if found is None:
                raise TopicSyntaxError(
                    f"unknown alias @{name} in the list @{trail[-1]}"
                    if trail
                    else f"unknown alias @{name}",
                    topic=topic,
                    position=0,
                    query=query,
                )
            own = found
        out: list[str] = []
        for entry in own:
            if entry.startswith("@"):
                out += terms(entry[1:], (*trail, name))
            else:
                out.append(entry)
        resolved[name] = list(dict.fromkeys(out))
        return resolved[name]

    for name in aliases:
        terms(name, ())
    for name in _REFERENCE.findall(query):
        if name not in resolved and builtin(name) is not None:
            terms(name, ())
    return resolved
