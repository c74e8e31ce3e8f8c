"""Help: one index over the verbs' own help texts and the world file's topics.

Help has two sources, and this module keeps neither a copy of the other:

* **Verbs.** Every verb carries its help where it is registered
  (``registry.register("look", look, usage=..., help=..., category=...)``,
  a behaviour's ``@verb(..., help=...)``). The index reads the world's
  playing set (``world.verbs``) and the homepage editor's set each time
  they change, so a verb registered later (``mail``, ``@stats``, a
  channel) is in ``help`` at once.
* **Topics.** The world file's ``help:`` mapping (``docs/world-format.md``),
  read by :mod:`reality.game.loader` into :class:`HelpTopic` values, and a
  few built-in guides (:data:`BUILTIN_TOPICS`: moving, colour) that a
  world topic of the same name or alias replaces.

How ``help <query>`` finds an entry (:meth:`HelpIndex.find`): an exact
name or alias wins (a verb and a topic of one name are shown together,
the verb first); otherwise the names and aliases the query starts; one
entry is shown, several are listed ("Which do you mean: ..."). Admin
verbs are found and listed for admins only; an admin may leave out the
``@`` (``help dig``). ``help search <words>`` finds the entries whose
name, usage or text holds every word, as a case-insensitive substring
("lock" finds "unlock" and "locked": players rarely know the exact word),
and shows each with a snippet around the first hit.

Costs: the index is rebuilt only when a verb set changes or a world file
is loaded; a search is a substring scan over at most
:data:`MAX_HELP_TEXT_TOTAL` characters of pre-lowered plain text (the
loader caps a world's help), so it is bounded whatever a player types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from attrs import evolve, field, frozen

from reality.game import markup

__all__ = [
    "BUILTIN_TOPICS",
    "DEFAULT_TOPIC_CATEGORY",
    "MAX_HELP_TEXT",
    "MAX_HELP_TEXT_TOTAL",
    "MAX_HELP_TOPICS",
    "MAX_QUERY",
    "MAX_RESULTS",
    "MAX_SEARCH",
    "TOPIC_NAME",
    "HelpEntry",
    "HelpIndex",
    "HelpMatch",
    "HelpQuery",
    "HelpTopic",
    "parse_query",
]

#: The longest ``help <topic>`` query, in characters.
MAX_QUERY = 60
#: The longest ``help search`` text, in characters.
MAX_SEARCH = 40
#: Search results shown (the rest are counted).
MAX_RESULTS = 20
#: Topics in one world file, characters of one topic's text, and of all of them.
MAX_HELP_TOPICS = 500
MAX_HELP_TEXT = 16_000
MAX_HELP_TEXT_TOTAL = 1_000_000
#: A world topic's name (and each alias): what a player types after ``help``.
TOPIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _'-]{0,39}\Z")
#: The category of a topic that names none.
DEFAULT_TOPIC_CATEGORY = "guides"
#: Characters of text on each side of a search hit in its snippet.
SNIPPET_CONTEXT = 30


@frozen
class HelpTopic:
    """A help topic that is not a verb: from the world file, or built in.

    ``name`` is shown as written ("The town"); it is matched in lower case.
    ``title`` is the heading shown above the text ("" = the name).
    """

    name: str
    text: str
    aliases: tuple[str, ...] = ()
    category: str = DEFAULT_TOPIC_CATEGORY
    line: int = 0
    title: str = ""


@frozen
class HelpEntry:
    """One thing ``help`` can show: a verb or a topic."""

    name: str
    #: The body, as markup.
    text: str
    category: str
    aliases: tuple[str, ...] = ()
    #: Verbs only: how to type it ("get <item> | get all").
    usage: str = ""
    admin: bool = False
    #: ``"verb"`` or ``"topic"``.
    kind: str = "topic"
    title: str = ""
    #: Plain, lower-cased name, usage and text: what ``help search`` scans.
    haystack: str = field(default="", eq=False, repr=False)

    @property
    def key(self) -> str:
        """The lower-case name: the entry's address (``/help/<key>``)."""
        return self.name.lower()

    def heading(self) -> str:
        """The first line shown, as markup: the usage of a verb, a topic's title."""
        if self.kind == "verb":
            head = markup.escape(self.usage or self.name)
        else:
            head = markup.escape(self.title or self.name)
        return f"{{bold}}{head}{{/}}"

    def render(self) -> str:
        """The whole entry as markup: heading, other names, text."""
        aliases = f" (also: {', '.join(self.aliases)})" if self.aliases else ""
        body = self.text or "(No help has been written for this yet.)"
        return f"{self.heading()}{markup.escape(aliases)}\n{body}"


@frozen
class HelpMatch:
    """What :meth:`HelpIndex.find` found: ``entries`` to show, or ``candidates`` to choose from."""

    entries: tuple[HelpEntry, ...] = ()
    candidates: tuple[HelpEntry, ...] = ()
    #: Whether ``entries`` are named exactly (not by a prefix).
    exact: bool = False


@frozen
class HelpQuery:
    """A parsed ``help`` line: ``action`` is ``list``, ``topic``, ``search`` or ``refuse``.

    ``text`` is the topic or the search words (lower case, single spaces),
    or for ``refuse`` the sentence to answer with (markup).
    """

    action: str
    text: str = ""


def parse_query(args: str) -> HelpQuery:
    """Read what follows ``help``; never raises, whatever the text.

    ``""`` lists; ``search <words>`` (or ``find``) searches; anything else
    is a topic. Empty searches and overlong queries are refused with a
    sentence that says what would work.
    """
    text = " ".join(str(args).split()).lower()
    if not text:
        return HelpQuery("list")
    word, _, rest = text.partition(" ")
    if word in ("search", "find") and (rest or word == "search"):
        if not rest:
            return HelpQuery("refuse", "Search for what? For example: help search door.")
        if len(rest) > MAX_SEARCH:
            return HelpQuery(
                "refuse",
                f"That is too long to search for (at most {MAX_SEARCH} characters):"
                " try one or two words.",
            )
        return HelpQuery("search", rest)
    if len(text) > MAX_QUERY:
        return HelpQuery(
            "refuse",
            f"That is too long for a help topic (at most {MAX_QUERY} characters)."
            " Type 'help' for the list, or 'help search <word>'.",
        )
    return HelpQuery("topic", text)


def _plain(*parts: str) -> str:
    return " ".join(" ".join(markup.strip(p).split()) for p in parts if p).lower()


def _entry_of_verb(verb: Any, category: str | None = None) -> HelpEntry:
    entry = HelpEntry(
        name=verb.name,
        text=verb.help,
        category=category or verb.category,
        aliases=tuple(verb.aliases),
        usage=verb.usage,
        admin=verb.admin,
        kind="verb",
    )
    return _with_haystack(entry)


def _entry_of_topic(topic: HelpTopic) -> HelpEntry:
    entry = HelpEntry(
        name=topic.name,
        text=topic.text,
        category=topic.category or DEFAULT_TOPIC_CATEGORY,
        aliases=topic.aliases,
        kind="topic",
        title=topic.title,
    )
    return _with_haystack(entry)


def _with_haystack(entry: HelpEntry) -> HelpEntry:
    haystack = _plain(entry.name, " ".join(entry.aliases), entry.usage, entry.title, entry.text)
    return evolve(entry, haystack=haystack)


class HelpIndex:
    """Every help entry of a world: its verbs (read live) and its topics.

    ``verbs`` is the playing set (a :class:`~reality.game.verbs.core.VerbRegistry`);
    ``extra`` are other sets whose verbs are listed too (the homepage
    editor's); ``topics`` are the world file's. Code may add topics to
    ``verbs.topics`` (``{name: markup text}``), shown like the file's.
    The world keeps one (``world.help``, see :class:`~reality.game.world.World`).
    """

    def __init__(
        self,
        verbs: Any,
        topics: Iterable[HelpTopic] = (),
        *,
        extra: Sequence[Any] = (),
        builtin: Iterable[HelpTopic] | None = None,
    ) -> None:
        self.verbs = verbs
        self.extra = tuple(extra)
        own = [_entry_of_topic(t) for t in topics]
        taken = {w for e in own for w in (e.key, *(a.lower() for a in e.aliases))}
        # A world topic of the same name or alias replaces a built-in guide.
        guides = [
            _entry_of_topic(t)
            for t in (BUILTIN_TOPICS if builtin is None else builtin)
            if t.name.lower() not in taken and not taken.intersection(a.lower() for a in t.aliases)
        ]
        self._topics: tuple[HelpEntry, ...] = (*own, *guides)
        self._state: tuple[Any, ...] | None = None
        self._entries: list[HelpEntry] = []
        self._words: dict[str, list[HelpEntry]] = {}

    # -- building ----------

    def _current(self) -> list[HelpEntry]:
        """Every entry, rebuilt only when a verb set (or its code topics) changed."""
        sets = (self.verbs, *self.extra)
        state = tuple(
            (id(s), getattr(s, "version", None), tuple(getattr(s, "topics", {}).items()))
            for s in sets
        )
        if state != self._state:
            entries: list[HelpEntry] = []
            for registry in sets:
                entries.extend(_entry_of_verb(v) for v in registry.all())
            code_topics = [
                _entry_of_topic(text if isinstance(text, HelpTopic) else HelpTopic(name, text))
                for name, text in getattr(self.verbs, "topics", {}).items()
            ]
            entries.extend(self._topics)
            entries.extend(code_topics)
            words: dict[str, list[HelpEntry]] = {}
            for entry in entries:
                for word in dict.fromkeys((entry.key, *(a.lower() for a in entry.aliases))):
                    words.setdefault(word, []).append(entry)
            self._entries, self._words, self._state = entries, words, state
        return self._entries

    def version(self) -> object:
        """A value that changes whenever what the index shows may have (for caches)."""
        self._current()
        return (id(self), self._state)

    def entries(self, *, admin: bool) -> list[HelpEntry]:
        """Every entry this reader may see (admin verbs for admins only)."""
        return [e for e in self._current() if admin or not e.admin]

    def categories(self, *, admin: bool) -> list[tuple[str, list[HelpEntry]]]:
        """Entries by category: verbs' categories first ("general" leading), then topics'."""
        verbs: dict[str, list[HelpEntry]] = {}
        topics: dict[str, list[HelpEntry]] = {}
        for entry in self.entries(admin=admin):
            group = verbs if entry.kind == "verb" else topics
            group.setdefault(entry.category, []).append(entry)
        ordered = sorted(verbs.items(), key=lambda kv: (kv[0] != "general", kv[0]))
        ordered += sorted(topics.items(), key=lambda kv: (kv[0] == DEFAULT_TOPIC_CATEGORY, kv[0]))
        return [(name, sorted(group, key=lambda e: e.key)) for name, group in ordered]

    # -- finding ----------

    def exact(self, name: str, *, admin: bool) -> list[HelpEntry]:
        """The entries named (or aliased) ``name``, verbs first."""
        self._current()
        found = [e for e in self._words.get(name.lower(), ()) if admin or not e.admin]
        return sorted(found, key=lambda e: e.kind != "verb")

    def find(self, query: str, *, admin: bool) -> HelpMatch:
        """An exact name or alias, else a unique prefix, else candidates (see the module)."""
        query = " ".join(query.lower().split())
        if not query:
            return HelpMatch()
        words = [query]
        if query.startswith("@"):
            words.append(query.lstrip("@"))
        elif admin:
            words.append("@" + query)
        for word in words:
            found = self.exact(word, admin=admin)
            if found:
                return HelpMatch(entries=tuple(found), exact=True)
        # Prefixes as typed (and '@' + the query for admins): "@sh" is no prefix of "shut".
        prefixes = [query, "@" + query] if admin and not query.startswith("@") else [query]
        matches: dict[int, HelpEntry] = {}
        for entry in self.entries(admin=admin):
            for word in (entry.key, *(a.lower() for a in entry.aliases)):
                if any(word.startswith(p) for p in prefixes):
                    matches[id(entry)] = entry
                    break
        found = sorted(matches.values(), key=lambda e: (e.kind != "verb", e.key))
        if len(found) == 1:
            return HelpMatch(entries=(found[0],))
        return HelpMatch(candidates=tuple(found))

    def search(
        self, words: str, *, admin: bool, limit: int = MAX_RESULTS
    ) -> tuple[list[tuple[HelpEntry, str]], int]:
        """``([(entry, snippet)...], total)``: the entries holding every word.

        Name hits come first, then by where the first word appears. The
        snippet is markup: about :data:`SNIPPET_CONTEXT` characters each
        side of the first hit, the hit in bold, on one line.
        """
        terms = [t for t in " ".join(words.lower().split()).split(" ") if t][:8]
        if not terms:
            return [], 0
        hits: list[tuple[tuple[int, int, str], HelpEntry]] = []
        for entry in self.entries(admin=admin):
            haystack = entry.haystack
            if all(t in haystack for t in terms):
                in_name = not any(t in entry.key for t in terms)
                hits.append(((int(in_name), haystack.find(terms[0]), entry.key), entry))
        hits.sort(key=lambda h: h[0])
        shown = [(entry, _snippet(entry, terms[0])) for _, entry in hits[: max(0, limit)]]
        return shown, len(hits)


def _snippet(entry: HelpEntry, term: str) -> str:
    """A line of the entry's text around ``term``, as markup with the term in bold."""
    text = " ".join(markup.strip(entry.text).split())
    at = text.lower().find(term)
    if at < 0:
        # The hit is in the name or usage: the text's opening.
        cut = text[: SNIPPET_CONTEXT * 2]
        return markup.escape(cut + ("..." if len(text) > len(cut) else ""))
    start = max(0, at - SNIPPET_CONTEXT)
    end = min(len(text), at + len(term) + SNIPPET_CONTEXT)
    before, hit, after = text[start:at], text[at : at + len(term)], text[at + len(term) : end]
    return (
        ("..." if start else "")
        + markup.escape(before)
        + "{bold}"
        + markup.escape(hit)
        + "{/}"
        + markup.escape(after)
        + ("..." if end < len(text) else "")
    )


#: Guides every world has unless its file replaces them (a topic of the same name or alias).
BUILTIN_TOPICS: tuple[HelpTopic, ...] = (
    HelpTopic(
        "movement",
        "Type an exit's name (north, door...) or 'go <exit>'. Short forms: n s e w ne nw se sw"
        " u d. 'look' shows where you are and the ways out.",
        title="Moving around",
    ),
    HelpTopic(
        "colour",
        # This text is markup itself: "{{" shows one "{", a "}" needs no escape.
        "World text uses tags like {{red}...{{/}: colour names (red, bright_blue, grey...),"
        " #rrggbb, on_<colour> for backgrounds, and bold, dim, italic, underline, reverse."
        " Write '{{{{' for a literal '{{' (a '}' alone needs no escaping)."
        " 'set color off' turns colour off for you.",
        aliases=("color",),
        title="Colour",
    ),
)
