"""The figures a sentence reports (pure): how many, hedged how, of what, said by whom.

"About 8,000 North Korean troops", "more than 5 million artillery shells",
"북한군 사상자 4천여 명", "около 12 тысяч военных КНДР": each is a Figure with its
number (or the range a word like "dozens" implies), its hedge, what is counted as
written, the kind of thing counted (KINDS) and the source the sentence names.

Numbers are read in digits with any separator ("8,000", "8.000", "8 000",
"1.5 million", "1만2천", "800만", "12 тыс."), in English number words ("eight
million", "a dozen", "tens of thousands") and as ranges ("10,000–12,000", "between
10,000 and 12,000", "1만~1만2천", "от 10 до 12 тысяч"). Not figures: dates, years,
times, ages, percentages, ordinals, measurements (km, tonnes, hours, days) and the
numbers in names (Hwasong-19, Su-35, KN-23, Kilo 636), rates (0.72명), counts of
events (six missile tests, 12 times) and numbers that refer back ("the two
countries"). A number whose counted thing is none of the kinds is kept as "other"
only when what it counts is a countable noun close after it (a plural, people, a
unit), so a stray "two" of a phrase is not a figure.

Rules, not a model: the words of each language for hedges, kinds and sources, and
the shapes numbers take; nothing is specific to a story, a site or an outlet. They
were built on annotated sentences of the corpora (tests/data/figures.jsonl,
docs/figures.md), which hold them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from extractors.models import Figure

__all__ = ["HEDGES", "KINDS", "Figure", "describe", "figures_in", "figures_of", "summarize"]

KINDS = (
    "troops",
    "casualties",
    "killed",
    "wounded",
    "captured",
    "defectors",
    "workers",
    "shells",
    "missiles",
    "rockets",
    "launchers",
    "drones",
    "aircraft",
    "vehicles",
    "money",
    "other",
)
HEDGES = ("exact", "about", "more than", "at least", "up to", "as many as", "fewer than")


# --- Numbers -------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1,
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
    "zehn": 10, "elf": 11, "zwölf": 12, "zwanzig": 20,
    "hai": 2, "ba": 3, "bốn": 4, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9, "mười": 10,
}  # fmt: skip
_SCALES = {
    "hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "mn": 1e6, "bn": 1e9, "m": 1e6, "k": 1e3, "tn": 1e12,
    "тыс": 1e3, "тысяч": 1e3, "тысячи": 1e3, "тысяча": 1e3, "тысячу": 1e3,
    "млн": 1e6, "миллион": 1e6, "миллиона": 1e6, "миллионов": 1e6,
    "млрд": 1e9, "миллиард": 1e9, "миллиарда": 1e9, "миллиардов": 1e9,
    "tausend": 1e3, "millionen": 1e6, "million.": 1e6, "mio": 1e6, "mrd": 1e9,
    "milliarden": 1e9, "mille": 1e3, "millions": 1e6, "milliards": 1e9, "milliard": 1e9,
    "nghìn": 1e3, "ngàn": 1e3, "triệu": 1e6, "tỷ": 1e9, "tỉ": 1e9,
}  # fmt: skip
# Words that stand for a range, not a number: (low, high).
_VAGUE = {
    "dozens": (24, 99), "scores": (40, 99), "hundreds": (200, 999),
    "thousands": (2_000, 9_999), "tens of thousands": (20_000, 99_999),
    "hundreds of thousands": (200_000, 999_999), "millions": (2e6, 9.99e6),
    "several hundred": (300, 999), "several thousand": (3_000, 9_999),
    "a few hundred": (200, 500), "a few thousand": (2_000, 5_000),
    "several million": (3e6, 9.99e6), "a few dozen": (24, 60), "several dozen": (36, 99),
    "several thousands": (3_000, 9_999), "billions": (2e9, 9.99e9), "several hundred thousand": (300_000, 999_999),
    "dutzende": (24, 99), "hunderte": (200, 999), "tausende": (2_000, 9_999),
    "zehntausende": (20_000, 99_999), "hàng nghìn": (2_000, 9_999), "hàng trăm": (200, 999),
    "hàng chục": (20, 99), "hàng triệu": (2e6, 9.99e6),
    "сотни": (200, 999), "тысячи": (2_000, 9_999), "десятки тысяч": (20_000, 99_999),
    "сотни тысяч": (200_000, 999_999), "миллионы": (2e6, 9.99e6), "десятки": (20, 99),
    "수십": (20, 99), "수백": (200, 999), "수천": (2_000, 9_999), "수만": (20_000, 99_999),
    "수십만": (200_000, 999_999), "수백만": (2e6, 9.99e6),
}  # fmt: skip

_DIGITS = (
    r"\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?"
)
_SCALE_WORD = (
    r"(?:hundred|thousand|million|billion|trillion|mn|bn|tn|m|k|"
    r"тыс\.?|тысяч[иау]?|млн\.?|миллион(?:ов|а)?|млрд\.?|миллиард(?:ов|а)?|"
    r"tausend|millionen|mio\.?|mrd\.?|milliarden|milliards?|millions?|mille|nghìn|ngàn|triệu|tỷ|tỉ)"
)
_WORD_NUMBER = (
    r"(?:(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|"
    r"nine))?(?:\s+(?:hundred|thousand|million|billion))+|"
    r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety)|a\s+dozen|half\s+a\s+million|"
    r"zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|"
    r"hai|ba|bốn|sáu|bảy|tám|chín|mười)"
)
# Korean and CJK numerals: 1만2천, 800만, 4천, 3억 5천만, 1万2000.
_EAST = r"(?:\d+(?:[.,]\d+)?\s?[조兆억億亿만万천千백百]\s?)+\d*"
_VAGUE_RE = "|".join(sorted((re.escape(k) for k in _VAGUE), key=len, reverse=True))

_NUMBER = re.compile(
    rf"(?P<east>(?<![\w.,-]){_EAST})"
    rf"|(?P<digits>(?<![\w.,/:])(?<![^\W\d_]-)(?:{_DIGITS})(?:[\s-]*{_SCALE_WORD}(?![^\W\d_]))?(?!\w*\d)(?!-[^\W\d_]))"
    rf"|(?P<words>\b{_WORD_NUMBER}\b)"
    rf"|(?P<vague>(?<!\w)(?:{_VAGUE_RE})(?!\w))",
    re.IGNORECASE,
)
_RANGE_GLUE = re.compile(
    r"^\s*(?:–|—|-|~|∼|〜|to|and|or|до|или|и|至|đến|bis)\s*(?:US\$|\$|€|£|₩)?\s*$", re.IGNORECASE
)


def _number(text: str, kind: str) -> float | None:
    """The value of one matched number."""
    t = text.strip().lower().replace("\u00a0", " ").replace("\u202f", " ")
    if kind == "east":
        total, rest = 0.0, t.replace(" ", "").replace(",", "")
        for mark, scale in (("조", 1e12), ("兆", 1e12), ("억", 1e8), ("億", 1e8), ("亿", 1e8), ("만", 1e4), ("万", 1e4), ("천", 1e3),
                            ("千", 1e3), ("백", 1e2), ("百", 1e2)):  # fmt: skip
            if mark in rest:
                head, rest = rest.split(mark, 1)
                total += float(head or 1) * scale
        return total + (float(rest) if rest else 0.0)
    if kind == "digits":
        m = re.match(rf"({_DIGITS})[\s-]*(.*)$", t)
        if not m:
            return None
        digits, word = m.group(1), m.group(2).rstrip(".")
        return _digits(digits) * (_SCALES.get(word, 1.0) if word else 1.0)
    if kind == "words":
        if "dozen" in t:
            return 12.0
        if t.startswith("half"):
            return 5e5
        total, current = 0.0, 0.0
        for w in re.split(r"[\s-]+", t):
            if w in _UNITS:
                current += _UNITS[w]
            elif w == "hundred":
                current = max(current, 1) * 100
            elif w in _SCALES:
                total += max(current, 1) * _SCALES[w]
                current = 0.0
        return total + current
    return None


def _digits(s: str) -> float:
    s = s.replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        return float(s.replace(",", ""))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", s):  # 8.000 / 1.234,5
        return float(s.replace(".", "").replace(",", "."))
    return float(s.replace(",", "."))


# --- What a number is not ---------------------------------------------------------------

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"январ\w*|феврал\w*|март\w*|апрел\w*|ма[йяе]\w*|июн\w*|июл\w*|август\w*|"
    r"сентябр\w*|октябр\w*|ноябр\w*|декабр\w*"
)
# Right after the number: what makes it a date, a time, an age, a share or a measure.
_NOT_AFTER = re.compile(
    r"^\s*(?:%|percent|per\s*cent|percentage|процент\w*|퍼센트|％|"
    rf"(?:st|nd|rd|th)\b|(?:{_MONTHS})\b|"
    r"(?:-|\s)?(?:year|month|week|day|hour|minute|second)s?[- ]old|"
    r"years?\b|months?\b|weeks?\b|days?\b|hours?\b|minutes?\b|seconds?\b|decades?\b|"
    r"square|sq\b|km|kilomet\w*|miles?\b|metres?|meters?|m\b|mm\b|cm\b|kg\b|kilograms?|tonnes?|tons?\b|t\b|"
    r"lb|pounds?\s+(?:of|in weight)|feet|foot|ft\b|inch|knots?|mph|km/h|°|degrees?|"
    r"a\.m\.|p\.m\.|am\b|pm\b|gmt|utc|kst|msk|bc\b|ad\b|"
    r"년|월|일|시|분|초|세|살|개월|주년|주일|시간|km|킬로|미터|톤|킬로그램|㎞|"
    r"год\w*|лет\b|месяц\w*|недел\w*|дн\w*|день|час\w*|минут\w*|километр\w*|км\b|тонн\w*|"
    r"г\.|гг\.|кг\b|числа|th\b|:\d|times\b|-fold|fold\b|mal\b|lần\b|"
    r"회|차례|배\b|차\b|차\s|군\s|진\b|진은|단계|식\b|식\s|급|극\b|극\s|위\b|번째|호\b|층|톤|t급|개년|명대|"
    r"năm\b|tháng\b|ngày\b|giờ\b|tuổi|km\b|jahre?n?\b|monate?n?\b|tage?n?\b|stunden\b|uhr\b|"
    r"年|月|日|岁|歳|时|時|点)",
    re.IGNORECASE,
)
# Right before the number: a model or a name ("Su-35"), an ordinal, a date or an age.
_NOT_BEFORE = re.compile(
    r"(?:[A-Za-zА-Яа-я가-힣]-|[A-Za-z]|no\.\s?|nos?\.\s?|number\s|#|№\s?|"
    r"aged\s|age\s|ages\s|(?:in|since|by|until|till|from|of|before|after|during|early|late|mid)-?\s(?=\d{4}\b)|"
    rf"(?:{_MONTHS})\.?\s|제|第|article\s|section\s|resolution\s|page\s|chapter\s|"
    r"\$\d*|€|£|₩|¥|[A-Za-z]+-\d+-|(?-i:\b[A-Z]{2,}\s)|·|(?:ngày|hôm|tháng)\s(?:\d+[-/.])?|"
    r"(?:Class|Type|Block|Phase|Level|Stage|Tier|Mark|Mk|Category|Group|Part|Figure|Table|Volume|"
    r"Vol|Unit|Batch|Lot|Flight|Brigade|Division|Regiment|Corps|Army|Route|Highway|Gate|Pier|"
    r"Resolution|Res|Art|Sec|Para|Version|Model|Series|Project|Decree|Order|Law)\.?\s)$",
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(r"(?:US\$|\$|€|£|₩|¥|USD\s?|EUR\s?)$")
_MONEY_AFTER = re.compile(
    r"^\s*(?:dollars?|euros?|pounds?\b|yuan|yen|won\b|rubles?|roubles?|usd|eur|"
    r"달러|원\b|원어치|위안|엔|루블|유로|долл\w*|руб\w*|евро|юан\w*|美元|美金|人民币|元)",
    re.IGNORECASE,
)

# --- What is counted -----------------------------------------------------------------

# Kinds by word stems, most specific first; a counted phrase takes the first that fits.
_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("money", r"dollars?|euros?|rubles?|roubles?|yuan|won\b|yen\b|달러|위안|루블|유로|долл\w*|руб\w*|美元|美金|人民币"),
    ("killed", r"killed|dead\b|deaths?|died|fatalit\w*|lives|사망\w*|전사\w*|숨졌|숨진|погиб\w*|убит\w*|смерт\w*|getötet|umgekommen|gefallen|tote\b|thiệt mạng|tử vong|chết"),
    ("wounded", r"wounded|injur\w*|부상\w*|ранен\w*|verletzt\w*|verwundet\w*|bị thương"),
    ("captured", r"captured|prisoners?|POWs?|captives?|surrender\w*|포로\w*|생포\w*|투항\w*|плен\w*|сдал\w*|gefangen\w*|tù binh|đầu hàng|bị bắt"),
    ("casualties", r"casualt\w*|losses|사상자\w*|사상\b|потер\w*|verluste?|verloren|tổn thất|thương vong"),
    ("defectors", r"defectors?|탈북\w*|перебежчик\w*|đào tẩu"),
    ("workers", r"workers?|labou?rers?|노동자\w*|근로자\w*|рабочи\w*|работник\w*|трудящи\w*|arbeiter\w*|lao động|công nhân"),
    ("shells", r"shells?|rounds?\b|ammunition|munitions?(?! stück)|projectiles?|포탄\w*|탄약\w*|砲弾|炮弹|снаряд\w*|боеприпас\w*|granaten?|munition\b|đạn pháo|đạn"),
    ("launchers", r"launchers?|launch(?:ing)? (?:tubes?|systems?)|rocket systems?|howitzers?|mortars?|self-propelled guns?|artillery (?:systems?|pieces?|guns?)|MLRS|HIMARS|발사대\w*|발사관\w*|방사포\w*|자주포\w*|곡사포\w*|установ\w*|гаубиц\w*|РСЗО|\w*raketenwerfer|haubitzen?|artilleriesystem\w*|bệ phóng|khẩu pháo|pháo binh|pháo tự hành|hệ thống tên lửa phóng loạt|súng cối"),
    ("missiles", r"missiles?|미사일\w*|ミサイル|导弹|ракет\w*|\w*raketen?\b|marschflugkörper|tên lửa"),
    ("rockets", r"rockets?|로켓\w*"),
    ("drones", r"drones?|UAVs?|UAS\b|FPVs?|unmanned|드론\w*|무인기\w*|беспилотник\w*|дрон\w*|БПЛА|\w*drohnen?|herumfliegend\w*|máy bay không người lái|UAV"),
    ("aircraft", r"aircraft|airframes?|jets?\b|fighters?\b(?! jets? pilots)|planes?|helicopters?|bombers?|전투기\w*|항공기\w*|헬기\w*|폭격기\w*|самолет\w*|самолёт\w*|вертолет\w*|истребител\w*|kampfjets?|flugzeuge?|máy bay|"
                 r"(?:Su|MiG|Tu|Il|Yak|Ka|Mi|J|JH|KJ|H|Y|F|B|FA)-\d+\w*"),
    ("vehicles", r"vehicles?|(?<!anti-)tanks?\b|trucks?|armou?red|전차\w*|탱크\w*|차량\w*|장갑차\w*|танк\w*|машин\w*|бронетехник\w*|panzer\b|fahrzeuge?|xe tăng|xe bọc thép|xe chiến đấu|xe cơ giới|xe|"
                 r"(?:T|BMP|BMD|BTR|BRDM)-\d+\w*"),
    ("troops", r"troops?|soldiers?|servicem[ae]n|service members?|personnel|military personnel|forces|fighters|"
               r"volunteers?|mercenar\w*|conscripts?|recruits?|sappers?|engineers|special forces|"
               r"병력|군인\w*|병사\w*|장병\w*|군대|파병\w*|북한군|특수부대\w*|공병\w*|"
               r"военн\w*|солдат\w*|военнослужащ\w*|бойц\w*|наемник\w*|военных|войск\w*|"
               r"soldaten|truppen|kämpfer|soldats|troupes|binh sĩ|binh lính|quân nhân|quân\b|lính|士兵|军人|雇佣兵"),
)  # fmt: skip
_KIND_RE = [(kind, re.compile(rf"(?:{pattern})", re.IGNORECASE)) for kind, pattern in _KIND_WORDS]
# Korean counters: what the number counts when the noun stands elsewhere.
_COUNTER = re.compile(r"^\s*(?:여\s*)?(명|발|대|기|척|문|개|곳|정|량|건|가지)(?!년|월|씩|분|대)")
_COUNTER_KIND = {"발": "shells", "척": "other", "문": "launchers"}
# Words that end an English counted phrase.
_STOP = re.compile(
    r"^(?:to|in|into|from|at|on|for|by|with|and|or|but|who|which|that|were|was|are|is|"
    r"have|has|had|will|would|could|may|might|been|being|since|over|across|near|along|"
    r"per|a|an|the|this|these|those|each|than|as|according|said|says|reportedly|"
    r"already|now|so|far|last|this|next|also|there|of|und|oder|sowie|mit|von|für|im|in|"
    r"và|hoặc|của|tại|trong|với|и|или|с|в|на)$",
    re.IGNORECASE,
)

# --- Hedges --------------------------------------------------------------------------

_HEDGE_BEFORE = (
    ("as many as", r"as many as|as much as|no fewer than|as high as"),
    ("at least", r"at least|a minimum of|no less than|최소(?:한)?|적어도|не менее|по меньшей мере|как минимум|минимум|mindestens|au moins"),
    ("more than", r"more than|over|upwards of|in excess of|above|exceeding|some\s+more than|более|свыше|больше|более чем|mehr als|über|plus de"),
    ("fewer than", r"fewer than|less than|under|below|nearly|almost|close to|just under|менее|меньше|почти|около(?= половины)|fast|weniger als|presque|près de"),
    ("up to", r"up to|до|bis zu|jusqu'à|최대"),
    ("about", r"about|around|approximately|roughly|some|an estimated|estimated|an approximate|approx\.?|circa|ca\.|약|대략|около|примерно|порядка|приблизительно|etwa|rund|ungefähr|environ|quelque"),
)  # fmt: skip
_HEDGE_BEFORE_RE = [
    (h, re.compile(rf"(?:^|[\s(“\"'])(?:{p})\s*$", re.IGNORECASE)) for h, p in _HEDGE_BEFORE
]
_HEDGE_AFTER = (
    ("more than", r"^\s*(?:명|발|대|기)?\s*(?:이상|넘는|넘게|넘어|초과|余|以上|多)"),
    ("about", r"^\s*(?:여|餘)|^\s*(?:명|발|대|기)?\s*(?:가량|정도|안팎|내외|前後|左右)"),
    ("fewer than", r"^\s*(?:명|발|대|기)?\s*(?:미만|未満|以下|가까이|近く|弱)"),
    ("up to", r"^\s*(?:명|발|대|기)?\s*(?:까지)"),
    ("more than", r"^\s*(?:or|and) more\b|^\s*plus\b|^\s*-plus\b|^\s*\+"),
)  # fmt: skip
_HEDGE_AFTER_RE = [(h, re.compile(p, re.IGNORECASE)) for h, p in _HEDGE_AFTER]

# --- Sources -------------------------------------------------------------------------

_REPORTS = (
    r"said|say|says|told|estimated|estimate|estimates|reported|reports|claimed|claims|"
    r"believes|believe|assessed|assesses|announced|confirmed|stated|wrote|added|noted|"
    r"revealed|disclosed|found"
)
_SOURCE_NOUNS = (
    r"spy agency|intelligence|agency|officials?|ministry|military|service|government|"
    r"sources?|analysts?|experts?|lawmakers?|command|staff|chiefs|office|spokesm[ae]n|"
    r"spokeswoman|spokesperson|report|think tank|institute|researchers?|estimates?|"
    r"president|minister|secretary|general|commander|envoy|ambassador|legislator"
)
_NAME = r"(?:the\s+)?[A-Z][\w.'’&-]*(?:\s+(?:of|for|and|the|de|on)?\s*[A-Z][\w.'’&-]*){0,6}"
_SOURCE_RE = [
    re.compile(r"according to\s+(?P<s>(?:the\s+|a\s+|an\s+)?[^,.;:]{2,80}?)(?=[,.;:]|\s+(?:who|which|that|in|on|at|as)\b|$)", re.IGNORECASE),
    re.compile(rf"(?P<s>{_NAME}(?:['’]s)?(?:\s+(?:{_SOURCE_NOUNS})){{0,3}})\s+(?:{_REPORTS})\b"),
    re.compile(rf"(?P<s>(?:(?:US|U\.S\.|South Korean|Ukrainian|Russian|Western|[A-Z]\w+)\s+)?(?:{_SOURCE_NOUNS})(?:\s+(?:{_SOURCE_NOUNS})){{0,2}})\s+(?:{_REPORTS})\b"),
    re.compile(rf"\b(?:said|says|told|estimated|estimates|reported|claimed|announced)\s+(?P<s>{_NAME})"),
    re.compile(r"(?P<s>[가-힣A-Za-z·\s]{2,30}?)(?:에\s?따르면|의\s?추산|이\s?추산|은\s?추산|는\s?추산)"),
    re.compile(r"(?P<s>[가-힣A-Za-z·]{2,20})(?:이|가|은|는)\s+(?:[가-힣]+\s+)?(?:밝혔다|말했다|전했다|추산했다|분석했다|주장했다|보고했다|발표했다|추정했다|설명했다|보고했다)"),
    re.compile(r"^\s*(?P<s>[가-힣A-Za-z·]{2,20}(?:\s[가-힣A-Za-z·]{1,20})?)(?:은|는)\s[^.]*(?:밝혔다|말했다|전했다|추산했다|분석했다|주장했다|보고했다|발표했다|추정했다|설명했다)"),
    re.compile(r"по\s+(?:данным|словам|оценкам|информации|сведениям)\s+(?P<s>[^,.;:]{2,60})", re.IGNORECASE),
    re.compile(r"(?P<s>[А-ЯЁ][\w-]*(?:\s+[А-ЯЁA-Z][\w-]*){0,4})\s+(?:заявил\w*|сообщил\w*|сказал\w*|оценил\w*|утверждает|отметил\w*)"),
]  # fmt: skip


def figures_in(sentence: str) -> list[Figure]:
    """Every figure the sentence states, in order."""
    found: list[Figure] = []
    pending: list[int] = []
    if not _may_hold_a_number(sentence):
        return found
    matches = list(_NUMBER.finditer(sentence))
    source: str | None = None
    named = False
    i = 0
    while i < len(matches):
        m = matches[i]
        kind_of_match = m.lastgroup or ""
        start, end = m.start(), m.end()
        value = _number(m.group(), kind_of_match) if kind_of_match != "vague" else None
        low = high = value
        if kind_of_match == "vague":
            low, high = _VAGUE[m.group().lower()]
        # A range: "10,000–12,000", "10 to 12 thousand", "between 10,000 and 12,000".
        if i + 1 < len(matches) and kind_of_match != "vague":
            n = matches[i + 1]
            glue = sentence[end : n.start()]
            if (
                _RANGE_GLUE.match(glue)
                and n.lastgroup == kind_of_match
                and not (
                    glue.strip().lower() in ("and", "or", "и", "или")
                    and not re.search(r"between\s*$|от\s*$|사이", sentence[:start], re.IGNORECASE)
                )
            ):
                other = _number(n.group(), n.lastgroup or "")
                if other is not None and value is not None:
                    scale = _trailing_scale(n.group())
                    if scale and not _trailing_scale(m.group()) and value < other / scale * 1.0001:
                        value *= scale  # "10 to 12 thousand"
                    if value < other:
                        low, high, end, value = value, other, n.end(), None
                        i += 1
        i += 1
        if value is None and low is None:
            continue
        before, after = sentence[:start], sentence[end:]
        money = bool(_MONEY_BEFORE.search(before.rstrip())) or bool(_MONEY_AFTER.match(after))
        if not money and _not_a_figure(before, after, m.group(), kind_of_match):
            continue
        counted, kind = _counted(sentence, start, end, money)
        name = _NAME_BEFORE.search(before)
        if name and name.group(1).lower() not in _NOT_NAMES and kind in (None, "other"):
            continue  # "Kilo 636 submarines", "Hornsea 3": a name, not a count
        if kind_of_match == "words" and _DEFINITE.search(before):
            continue  # "the two countries": named before, not a figure reported
        if (
            value == 1 and kind == "other" and (kind_of_match != "digits" or _COUNTER.match(after))
        ) or (kind_of_match == "digits" and "." in m.group() and _COUNTER.match(after)):
            continue  # "one of them"; "0.72명" is a rate, not a count
        if kind == "money" and re.match(r"^\s*\S*\s*(?:지폐|짜리|bills?|notes?|banknotes?)", after):
            continue  # a denomination, not an amount
        if kind is None or kind == "other":
            pending.append(len(found))  # may take the kind of a figure joined to it
        if kind is None:
            kind = ""
        if not named:  # who says so: looked for once, when there is a figure
            source, named = _source(sentence), True
        hedge = _hedge(before, after)
        if kind_of_match == "vague" and hedge == "exact":
            hedge = "about"
        low, high = _bounds(hedge, value, low, high)
        found.append(
            Figure(value, low, high, hedge, counted, kind, source, sentence.strip(), start, end)
        )
    # "Five Chinese and six Russian aircraft", "2 Chinese, 7 Russian jets": the first
    # number counts what the second does.
    for i in reversed(pending):
        here = found[i]
        later = found[i + 1] if i + 1 < len(found) else None
        if (
            later is not None
            and later.kind != ""
            and (later.kind != "other" or here.kind == "")
            and _JOINED.match(sentence[here.end : later.start])
        ):
            found[i] = replace(here, kind=later.kind, counted=later.counted)
    return [f for f in found if f.kind]


_DEFINITE = re.compile(r"\b(?:the|these|those|both|its|their|all)\s+$", re.I)
# Between two coordinated numbers: at most an adjective, then "and" or a comma.
_JOINED = re.compile(
    r"^\s*(?:[A-Z][\w-]*\s*|\d+\s?mm\s*)?(?:,|and|or|và|und|и|과|와)\s*(?:some|about|around)?\s*$"
)


def _trailing_scale(text: str) -> float:
    m = re.search(rf"\s*({_SCALE_WORD})\.?$", text.strip(), re.IGNORECASE)
    return _SCALES.get(m.group(1).lower().rstrip("."), 0.0) if m else 0.0


# A capitalised word right before a number, inside a sentence.
_NAME_BEFORE = re.compile(r"(?<=[\w,;:)] )([A-Z][a-z]+)\s$")
_NOT_NAMES = frozenset(
    [
        "about",
        "some",
        "over",
        "nearly",
        "around",
        "almost",
        "approximately",
        "roughly",
        "only",
        "just",
        "another",
        "all",
        "the",
        "more",
        "fewer",
        "less",
        "up",
        "at",
        "as",
        "and",
        "or",
        "but",
        "these",
        "those",
        "its",
        "their",
        "his",
        "her",
        "our",
        "each",
        "with",
        "by",
        "of",
        "to",
        "in",
        "on",
        "for",
        "from",
        "than",
    ]
)


def _not_a_figure(before: str, after: str, number: str, kind: str) -> bool:
    if _NOT_AFTER.match(after):
        return True
    if _NOT_BEFORE.search(before[-20:]):
        return True
    if re.match(r"^[가-힣]", after) and not _COUNTER.match(after) and kind != "east":
        return True  # "3개씩", "5개년": a counter of something else
    digits = number.strip()
    if kind == "digits" and re.fullmatch(r"(?:1[89]|20)\d\d", digits):  # a year
        return True
    if kind == "digits" and re.match(r"^\s*[/:.]\d", after):  # 24/7, 10:30, 1.2.3
        return True
    return kind == "words" and digits.lower() in ("a", "an", "one")


def _counted(sentence: str, start: int, end: int, money: bool) -> tuple[str, str | None]:
    """What the number counts, as written, and its kind (None: not a figure)."""
    after = sentence[end:]
    before = sentence[:start]
    if money:
        unit = _MONEY_AFTER.match(after)
        sign = _MONEY_BEFORE.search(before.rstrip())
        return (unit.group().strip() if unit else sign.group() if sign else ""), "money"
    counter = _COUNTER.match(after)
    if counter:
        return _counted_korean(before, after, counter)
    # A verb before the number says what happened to them: "captured two soldiers".
    unhedged = re.sub(
        r"(?:at least|about|some|more than|over|nearly|around|hơn|khoảng|tới|gần|ít nhất)\s*$",
        "",
        before.rstrip(),
    ).rstrip()
    verb = re.search(r"([^\W\d_]+(?:\s[^\W\d_]+)?)$", unhedged)
    verb_kind = "casualties" if verb and _DID_TO.search(verb.group(1)) else None
    if re.search(
        r"(?:bodies|remains|death toll|deaths)\s+(?:of|at|to|rose to|reached)\s*$", unhedged, re.I
    ):
        verb = None
        verb_kind = "killed"
    if verb and re.search(r"(?:captured|gefangen)$", verb.group(1), re.I):
        verb_kind = "captured"
    elif verb and re.search(r"(?:killed|getötet)$", verb.group(1), re.I):
        verb_kind = "killed"
    elif verb and re.search(r"(?:wounded|injured)$", verb.group(1), re.I):
        verb_kind = "wounded"
    # The noun phrase after the number, up to its head noun.
    words: list[str] = []
    rest = re.sub(
        r"^\s*(?:units?\s+of\s+(?:this|the|these)?\s*|of\s+(?:the|these|those|its|their|them)?\s*|"
        r"more\s+|additional\s+|new\s+|other\s+)",
        "",
        after,
        flags=re.I,
    )
    rest = _CALIBRE.sub(" ", rest[:100])
    for w in re.finditer(r"\S+", rest):
        token = w.group()
        clean = token.strip(",.;:!?()[]\"'“”‘’«»_*")
        if clean.lower() in ("and", "or") and words and all(w[:1].isupper() for w in words):
            words.append(clean)  # "10,000 Chinese and Russian troops"
            continue
        if not clean or _STOP.match(clean) or not _WORDISH.fullmatch(clean):
            break
        words.append(clean)
        if token.rstrip(")]\"'’”") != token.rstrip(")]\"'’”").strip(",.;:!?") or len(words) == 7:
            break
    phrase, head_kind = _head(words)
    if re.search(
        r"(?:killed|dead|getötet|tot)\s+(?:or|and|oder|und)\s+(?:wounded|injured|verletzt)",
        after[:80],
        re.I,
    ):
        return phrase, "casualties"
    happened = _HAPPENED.match(after)
    if verb_kind:
        return phrase or (verb.group(1) if verb else ""), verb_kind
    if happened and (not head_kind or head_kind in ("troops", "other")):
        return (phrase or happened.group(1)), _kind(happened.group(1))
    if head_kind:
        return phrase, head_kind
    # "troops numbering 8,000": the noun just before.
    prev = re.search(
        r"([^\W\d_][\w-]*)\s+(?:numbering|totaling|totalling|totalled|at|reached|reaching)\s*$",
        before,
    )
    if prev and _kind(prev.group(1)) and not words:
        return prev.group(1), _kind(prev.group(1))
    return phrase, None


def _head(words: list[str]) -> tuple[str, str | None]:
    """The counted phrase up to its head, and the head's kind: the first words that
    name one of the kinds, else the first countable noun (kind "other"), else nothing.
    Units and types count themselves ("eight artillery brigades", "two types of UAV")."""
    if words and _UNITS_OF.match(" ".join(words)):
        return " ".join(words[:3]), "other"
    for n in range(1, min(len(words), 5) + 1):
        kind = _kind(" ".join(words[:n]))
        if kind:
            # what fires them, named after them: "rocket systems", "tên lửa phóng loạt"
            for m in range(n + 1, len(words) + 1):
                if _kind(" ".join(words[:m])) == "launchers":
                    return " ".join(words[:m]), "launchers"
            if _EVENTS.match(" ".join(words[n:])):  # "missile tests", "rounds of talks"
                return " ".join(words[: n + 1]), "other"
            return " ".join(words[:n]), kind
    for n in range(1, min(len(words), 3) + 1):
        if _COUNTABLE.search(" ".join(words[:n])):
            return " ".join(words[:n]), "other"
    return " ".join(words), None


# After a kind's word, what makes the count one of events: "six missile tests".
_EVENTS = re.compile(
    r"^(?:\(?[A-Z]+\)?\s+)?(?:tests?|launch(?:es)?|strikes?|attacks?|drills?|exercises?|flights?|"
    r"sorties|talks|consultations?|negotiations?|of (?:talks|consultations|negotiations|sanctions|"
    r"strategic|diplomatic|political))\b",
    re.I,
)
_UNITS_OF = re.compile(
    r"^(?:\w+\s+)?(?:brigades?|battalions?|divisions?|regiments?|companies|types?|kinds?|sorts?|"
    r"lữ đoàn|tiểu đoàn|sư đoàn|trung đoàn|loại|kiểu|brigaden?|bataillone?|divisionen?|arten?)\b",
    re.I,
)


# Verbs before a number that say what happened to those counted ("captured two soldiers").
_DID_TO = re.compile(
    r"(?:killed|captured|wounded|injured|lost|tổn thất|mất|verloren|getötet|gefangen)$", re.I
)
# Calibres and lengths inside a counted phrase ("four million 152 mm artillery shells").
_CALIBRE = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:mm|cm|㎜)\b")
_WORDISH = re.compile(r"[^\W_][\w'’/-]*", re.UNICODE)
# What happened to those counted, said right after the number: "1,000 were killed".
_HAPPENED = re.compile(
    r"^\s*(?:\S+\s+){0,3}?(?:were|have been|had been|was|are|have|had|sind|seien|wurden|worden|đã|bị)?\s*"
    r"[\"'“]?(killed|died|dead|wounded|injured|captured|taken prisoner|losses|casualties|"
    r"getötet|umgekommen|ums leben|gefallen|verletzt|verwundet|thiệt mạng|bị thương|chết|đầu hàng)\b",
    re.IGNORECASE,
)
# The head of a counted phrase of "other" things: a plural noun, or people.
_COUNTABLE = re.compile(
    r"(?:[^su\W]s|people|persons|children|civilians|staff|personnel|crew|units?|menschen|leute|người|"
    r"bức ảnh|khu vực|lữ đoàn|thiết bị|đơn vị|loại|chủng loại|quốc gia|nước|nỗ lực)$"
    r"|(?-i:^[A-ZÄÖÜ][a-zäöüß]{4,}(?:en|er)$)",
    re.IGNORECASE,
)


_PARTICLE = re.compile(r"(?:을|를|이|가|은|는|에게|에서|에|의|도|과|와|으로|로|만)$")
_KO_HEDGE = re.compile(r"^(?:이상|이하|미만|가량|정도|여|넘는|넘게|초과|안팎|내외|약|최소|최대|총)")
# Verb forms before a noun ("처한 5대 위기"): what follows is not counted by them.
_ADNOMINAL = re.compile(
    r"(?:한|된|던|진|운|찬|할|될|해서|하면|되면|나면|하고|하며|해야|했고|이며|이고)$"
)


def _counted_korean(before: str, after: str, counter: re.Match[str]) -> tuple[str, str | None]:
    """ "북한군 사상자 4천 명", "1만2천명의 병력", "포탄 800만 발": the noun before the
    number, or the one after its counter; what happened to them, said after."""
    tail = after[counter.end() :]
    # The noun after: "1만2천명의 병력", "181개 기관" (after a space, for things).
    linked = r"(?:의|에 달하는|에 이르는|규모의|가량의|이상의|여의|정도의)\s*"
    spaced = r"\s+" if counter.group(1) in ("개", "곳", "건", "가지", "기", "척") else r"(?!)"
    following = re.match(rf"^(?:\s*{linked}|{spaced})[‘'\"“]?([가-힣A-Za-z]{{2,}})", tail)
    # The nouns just before: "북한군 사상자 4천명", "포탄 800만 발"; none after a particle
    # ("인구는 38억 명" says what the number is, not what it counts) or a verb form.
    nouns = [
        w
        for w in re.findall(r"[가-힣A-Za-z·]+", before[-30:])
        if not _KO_HEDGE.fullmatch(w) and not w.endswith("씩")
    ][-2:]
    if not re.search(r"[가-힣A-Za-z·]\s*(?:약|최소|최대|대략|총)?\s*$", before):
        nouns = []
    while nouns and _PARTICLE.search(nouns[0]) and len(nouns) > 1:
        nouns = nouns[1:]
    if nouns and (_ADNOMINAL.search(nouns[-1]) or _PARTICLE.search(nouns[-1])):
        nouns = []
    preceding = " ".join(nouns)
    phrases = [
        q
        for q in (
            _PARTICLE.sub("", p) for p in (following.group(1) if following else "", preceding)
        )
        if len(q) >= 2 and not _KO_HEDGE.match(q)
    ]
    if counter.group(1) == "명" and re.match(
        r"^\s*(?:의\s*\S+\s*)?(?:을|를|이|가)?\s*(?:추가\s*)?(?:파병|투입|배치|파견)", tail
    ):
        return (phrases[0] if phrases else counter.group(1)), "troops"
    killed = re.search(r"사망|전사|숨", tail[:30])
    wounded = re.search(r"부상", tail[:30])
    if killed and wounded:
        return (phrases[0] if phrases else counter.group(1)), "casualties"
    if killed or wounded:
        return (phrases[0] if phrases else counter.group(1)), "killed" if killed else "wounded"
    for phrase in phrases:
        kind = _kind(phrase)
        if kind:
            return phrase, kind
    word = counter.group(1)
    if word == "대":  # "전투기 9대" counts machines; "5대 위기" is "five big crises"
        return "", None
    if word in _COUNTER_KIND:
        return (phrases[-1] if phrases else word), _COUNTER_KIND[word]
    return (phrases[0], "other") if phrases and word != "대" else (word, None)


def _kind(phrase: str) -> str | None:
    for kind, pattern in _KIND_RE:
        if pattern.search(phrase):
            return kind
    return None


def _hedge(before: str, after: str) -> str:
    tail = before[-40:]
    for hedge, pattern in _HEDGE_BEFORE_RE:
        if pattern.search(tail):
            return hedge
    for hedge, pattern in _HEDGE_AFTER_RE:
        if pattern.match(after[:12]):
            return hedge
    return "exact"


def _bounds(
    hedge: str, value: float | None, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    if value is None:
        return low, high
    if hedge in ("more than", "at least"):
        return value, None
    if hedge in ("up to", "as many as", "fewer than"):
        return None, value
    return value, value


def _source(sentence: str) -> str | None:
    for pattern in _SOURCE_RE:
        m = pattern.search(sentence)
        if m:
            source = " ".join(m.group("s").split()).strip(" ,.;:'\"“”")
            if 2 <= len(source) <= 80 and not source.lower().startswith(
                ("it ", "this", "he ", "she ", "they ")
            ):
                return source
    return None


def figures_of(title: str | None, sentences: list[str]) -> tuple[Figure, ...]:
    """The figures of a topic hit: its headline's, then those of the sentences where
    the topic's query holds (each sentence once)."""
    found = [replace(f, in_headline=True) for f in _figures_if_any(title or "")]
    for sentence in dict.fromkeys(sentences):
        if sentence != title:
            found.extend(_figures_if_any(sentence))
    return tuple(found)


def _figures_if_any(sentence: str) -> list[Figure]:
    return figures_in(sentence) if sentence else []


def _may_hold_a_number(sentence: str) -> bool:
    """A digit, or a word a number or a vague count starts with: a cheap test that
    spares most sentences the full scan."""
    if _DIGIT.search(sentence):
        return True
    return not _NUMBER_WORDS.isdisjoint(sentence.lower().split())


_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = frozenset(
    [w for w in _UNITS if len(w) > 2]
    + [k.split()[0] for k in _VAGUE]
    + [
        "dozen",
        "half",
        "few",
        "several",
        "tens",
        "hundreds",
        "thousands",
        "millions",
        "billions",
        "수십",
        "수백",
        "수천",
        "수만",
    ]
)


def describe(value: float | None, low: float | None, high: float | None, hedge: str) -> str:
    """A figure as an analyst reads it: "about 8,000", "10,000–12,000", "more than 5 million"."""
    if value is None:
        if low is not None and high is not None:
            return f"{_short(low)}–{_short(high)}"
        return f"{_short(low)} or more" if low is not None else f"up to {_short(high)}"
    words = "" if hedge == "exact" else hedge + " "
    return words + _short(value)


def _short(n: float | None) -> str:
    if n is None:
        return "?"
    for scale, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {name}"
    return f"{n:,.0f}" if n == int(n) else f"{n:,.2f}"


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind, from reported_figures rows (oldest first): the figures reported, the
    lowest and the highest (their low and high bounds), who said so, the first and
    last dates, and how many stories."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    summary = []
    for kind in [k for k in KINDS if k in by_kind]:
        group = by_kind[kind]
        lows = [r["low"] if r["low"] is not None else r["value"] for r in group]
        highs = [r["high"] if r["high"] is not None else r["value"] for r in group]
        lows = [x for x in lows if x is not None]
        highs = [x for x in highs if x is not None]
        summary.append(
            {
                "kind": kind,
                "figures": list(
                    dict.fromkeys(
                        describe(r["value"], r["low"], r["high"], r["hedge"]) for r in group
                    )
                ),
                "lowest": min(lows) if lows else None,
                "highest": max(highs) if highs else None,
                "sources": list(dict.fromkeys(r["source"] for r in group if r["source"])),
                "first": group[0]["reported_at"],
                "last": group[-1]["reported_at"],
                "stories": len({r["story"] for r in group}),
                "reports": len(group),
            }
        )
    return summary
