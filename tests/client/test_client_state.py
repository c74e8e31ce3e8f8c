"""The client's model and its drawing, without a server or a terminal."""

from __future__ import annotations

from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.output import DummyOutput

from reality.client.app import MudCompleter, PlayClient
from reality.client.state import DEFAULT_VERBS, ClientState

ROOM = {
    "id": "hall",
    "name": "The Hall",
    "exits": {"north": "library", "northeast": "garden"},
    "players": ["Bob", "Bertha"],
    "items": ["brass lamp", "book"],
    "npcs": ["grey cat"],
}


def state_in_room() -> ClientState:
    state = ClientState()
    state.gmcp_received("Room.Info", ROOM)
    state.gmcp_received("Client.Verbs", {"verbs": ["get", "give", "go", "look", "north"]})
    return state


def test_first_word_completes_verbs_and_exits():
    """The first word of a line completes to the server's verbs and the room's exits."""
    state = state_in_room()
    assert state.completions("g") == ("g", ["get", "give", "go"])
    assert state.completions("nor") == ("nor", ["north", "northeast"])
    assert state.completions("LO") == ("LO", []), "a capital letter makes case count"
    assert state.completions("look") == ("look", []), "a finished word offers nothing"


def test_later_words_complete_names_in_the_room_whole():
    """Later words complete exits and the names of players, characters and items."""
    state = state_in_room()
    assert state.completions("give lamp to B") == ("B", ["Bob", "Bertha"])
    assert state.completions("get b") == ("b", ["Bob", "Bertha", "brass lamp", "book"])
    assert state.completions("get brass l") == ("brass l", ["brass lamp"])
    assert state.completions("look at grey") == ("grey", ["grey cat"])
    assert state.completions("go northe") == ("northe", ["northeast"])


def test_default_verbs_until_the_server_sends_its_own():
    """Before Client.Verbs arrives the client offers common verbs."""
    state = ClientState()
    assert state.verbs == list(DEFAULT_VERBS)
    state.gmcp_received("Client.Verbs", {"verbs": "not a list"})
    assert state.verbs == list(DEFAULT_VERBS), "a malformed message changes nothing"


def test_completer_offers_nothing_while_input_is_masked():
    """A password is never completed (nor shown as a menu)."""
    state = state_in_room()
    completer = MudCompleter(state)
    assert [c.text for c in completer.get_completions(Document("lo"), None)] == ["look"]
    state.masked_changed(True)
    assert list(completer.get_completions(Document("lo"), None)) == []


def test_blank_line_after_a_prompt_is_dropped_once():
    """Output after a prompt starts on a fresh line; the prompt is not in the scrollback."""
    state = ClientState()
    state.prompt_received("> ")
    state.line_received("")
    state.line_received("Bob says hi.")
    state.line_received("")
    assert [line.text for line in state.lines] == ["Bob says hi.", ""]
    assert state.prompt == "> "


def test_typed_lines_are_echoed_after_the_prompt():
    """What the player sends shows in the scrollback after the prompt it answered."""
    state = ClientState()
    state.prompt_received("> ")
    state.echo_input("look")
    assert [(line.kind, line.text) for line in state.lines] == [("input", "> look")]


def test_scrollback_is_bounded():
    """Old lines fall off the top; the count of all lines keeps going."""
    state = ClientState(max_lines=100)
    for n in range(250):
        state.line_received(f"line {n}")
    assert len(state.lines) == 100
    assert state.lines[0].text == "line 150"
    assert state.total_lines == 250


def test_disconnect_forgets_the_room_and_says_what_to_do():
    """After a disconnect the toolbar shows no stale room and the scrollback says Enter."""
    state = state_in_room()
    state.disconnected("the server closed the connection", clean=True)
    assert not state.is_connected and state.room_name == "" and state.exits == []
    text = "\n".join(line.text for line in state.lines)
    assert "Disconnected: the server closed the connection." in text
    assert "Press Enter to reconnect" in text


class SizedOutput(DummyOutput):
    def __init__(self, columns: int, rows: int) -> None:
        self.size = Size(rows=rows, columns=columns)

    def get_size(self) -> Size:
        return self.size


def test_output_window_shows_the_tail_with_colours_and_scrolls_back():
    """The output shows the newest lines (ANSI colours as styles); PageUp keeps them steady."""
    client = PlayClient("127.0.0.1", 1, output=SizedOutput(80, 13), history=None)
    client.app = client._build_application()
    for n in range(30):
        client.state.line_received(f"line {n}")
    client.state.line_received("\x1b[31mred alert\x1b[0m")
    fragments = client._output_fragments()
    text = "".join(t for _, t, *_ in fragments)
    rows = text.split("\n")
    assert len(rows) == 10 and rows[-1] == "red alert" and rows[0] == "line 21"
    red = "".join(t for style, t, *_ in fragments if "ansired" in style)
    assert red == "red alert"
    client._scroll = 5
    client.state.line_received("newer")
    rows = "".join(t for _, t, *_ in client._output_fragments()).split("\n")
    assert rows[-1] == "line 25", "new output does not move a scrolled-back view"


def test_output_keeps_empty_lines_even_at_the_top():
    """An empty first line is drawn as an empty row, not swallowed; partial text comes last."""
    client = PlayClient("127.0.0.1", 1, output=SizedOutput(80, 13), history=None)
    client.app = client._build_application()
    client.state.line_received("")
    client.state.line_received("  Lindenford")
    client.state.partial_received("Name: ")
    text = "".join(t for _, t, *_ in client._output_fragments())
    assert text.split("\n") == ["", "  Lindenford", "Name: "]
    assert client._output_cursor().y == 2


def carrying(*items: tuple[str, str]) -> dict:
    return {"location": "inv", "items": [{"id": i, "name": n} for i, n in items]}


def test_later_words_complete_what_the_character_carries():
    """Char.Items.List (location inv) feeds completion: give glit<Tab> finds the crystal."""
    state = state_in_room()
    assert state.completions("give glit") == ("glit", [])
    state.gmcp_received("Char.Items.List", carrying(("crystal", "glittering crystal")))
    assert state.inventory == [("crystal", "glittering crystal")]
    assert state.completions("give glit") == ("glit", ["glittering crystal"])
    assert state.completions("give glittering c") == ("glittering c", ["glittering crystal"])
    assert state.completions("glit") == ("glit", []), "the first word is a verb"
    completer = MudCompleter(state)
    offered = [c.text for c in completer.get_completions(Document("give glit"), None)]
    assert offered == ["glittering crystal"]


def test_char_items_add_and_remove_update_the_inventory():
    """IRE's incremental messages keep the list; other locations and junk are ignored."""
    state = state_in_room()
    state.gmcp_received("Char.Items.List", carrying(("lamp", "brass lamp")))
    state.gmcp_received("Char.Items.Add", {"location": "inv", "item": {"id": "k", "name": "key"}})
    assert state.inventory == [("lamp", "brass lamp"), ("k", "key")]
    state.gmcp_received("Char.Items.Remove", {"location": "inv", "item": {"id": "lamp"}})
    assert state.inventory == [("k", "key")]
    state.gmcp_received("Char.Items.List", {"location": "room", "items": []})
    state.gmcp_received("Char.Items.List", {"location": "inv", "items": "nope"})
    state.gmcp_received("Char.Items.Add", {"location": "inv", "item": ["x"]})
    state.gmcp_received("Char.Items.List", [])
    assert state.inventory == [("k", "key")]
    state.disconnected("gone", clean=True)
    assert state.inventory == []
