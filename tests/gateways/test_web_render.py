"""Homepage Markdown off the loop: the worker processes, and the site waiting for them.

The site tests use a fake renderer whose Deferreds the test fires; the
process tests run real child processes on a real reactor (the real worker,
and small stand-ins that are slow or die), with bounded waits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import RoomInfo, World
from reality.gateways.web import WebSite, map_svg, render_markdown
from reality.gateways.workers import JobTimeout, ServerBusy, WorkerPool
from reality.net.defer import Deferred
from reality.net.protocols.http import Headers, Request, Response
from reality.net.testing import Clock, wait_for

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"


class FakeRenderer:
    """Hands out Deferreds the test fires by hand."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, Deferred[str]]] = []
        self.maps: list[tuple[list[RoomInfo], Deferred[str]]] = []

    def markdown(self, text: str) -> Deferred[str]:
        d: Deferred[str] = Deferred()
        self.jobs.append((text, d))
        return d

    def map_svg(self, rooms: list[RoomInfo], start: str | None, title: str) -> Deferred[str]:
        d: Deferred[str] = Deferred()
        self.maps.append((rooms, d))
        return d

    def finish(self, index: int = 0) -> None:
        text, d = self.jobs.pop(index)
        d.callback(str(render_markdown(text)))

    def finish_map(self) -> None:
        rooms, d = self.maps.pop(0)
        d.callback(map_svg(rooms, None, "W"))


class Session:
    def attach(self, player: Any) -> None:
        self.player = player

    def show(self, text: str) -> None:
        pass

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        pass

    def disconnect(self, message: str) -> None:
        pass


@pytest.fixture
def h() -> Any:
    class H:
        clock = Clock()
        store = Store(":memory:")
        world = World(clock, store, wall_clock=lambda: 1_700_000_000.0)
        renderer = FakeRenderer()

    h = H()
    h.world.load(load_world(TINY))
    h.site = WebSite(h.world, h.clock, renderer=h.renderer)
    h.store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    h.alice = h.world.connect("Alice", Session())
    yield h
    h.store.close()


def get(site: WebSite, path: str) -> Any:
    return site(Request("GET", path, {}, Headers(), raw_path=path, target=path))


def result_of(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.add_both(box.append)
    assert box, "the Deferred has not fired"
    return box[0]


def test_a_changed_homepage_waits_for_its_markdown(h):
    """After a save, the page is a Deferred that fires with the rendered text."""
    h.world.set_homepage(h.alice, "*hello*")
    d = get(h.site, "/~alice")
    assert isinstance(d, Deferred)
    assert [text for text, _ in h.renderer.jobs] == ["*hello*"]
    h.renderer.finish()
    response = result_of(d)
    assert isinstance(response, Response) and b"<em>hello</em>" in response.body
    # Rendered once: served from the cache from now on, synchronously.
    assert get(h.site, "/~alice") is response


def test_requests_during_a_render_share_one_job(h):
    """Three requests for a page being rendered make one job and three answers."""
    h.world.set_homepage(h.alice, "**one job**")
    waiting = [get(h.site, p) for p in ("/~alice", "/players/alice", "/~ALICE")]
    assert len(h.renderer.jobs) == 1
    h.renderer.finish()
    responses = [result_of(d) for d in waiting]
    assert all(b"<strong>one job</strong>" in r.body for r in responses)


def test_a_move_does_not_render_markdown_again(h):
    """Where the player is changes the page, but the Markdown is not rendered again."""
    h.world.execute(h.alice, "set where visible")
    h.world.set_homepage(h.alice, "text")
    d = get(h.site, "/~alice")
    h.renderer.finish()
    result_of(d)
    h.world.execute(h.alice, "north")
    page = get(h.site, "/~alice")
    assert isinstance(page, Response) and b"The Library" in page.body
    assert h.renderer.jobs == []


def test_a_text_changed_during_its_render_is_rendered_again(h):
    """If the homepage changes while rendering, the page waits for the newer text."""
    h.world.set_homepage(h.alice, "old")
    d = get(h.site, "/~alice")
    h.world.set_homepage(h.alice, "new")
    h.renderer.finish()  # "old" is done, but it is no longer the text
    assert [text for text, _ in h.renderer.jobs] == ["new"]
    h.renderer.finish()
    body = result_of(d).body
    assert b"<p>new</p>" in body and b"<p>old</p>" not in body


def test_a_failed_render_shows_the_text_escaped(h):
    """When the renderer fails the page still comes, its text escaped in <pre>."""
    h.world.set_homepage(h.alice, "[[[ <script>alert(1)</script>")
    d = get(h.site, "/~alice")
    _, job = h.renderer.jobs.pop()
    job.errback(JobTimeout())
    body = result_of(d).body.decode()
    assert '<pre class="source">[[[ &lt;script&gt;alert(1)&lt;/script&gt;</pre>' in body
    assert "<script" not in body


def test_empty_homepages_need_no_render(h):
    """An empty homepage is answered at once, without the renderer."""
    response = get(h.site, "/~alice")
    assert isinstance(response, Response) and h.renderer.jobs == []


def test_the_map_is_drawn_by_the_renderer_once_per_world_change(h):
    """The map waits for the renderer; requests meanwhile share the job; then it is cached."""
    first, second = get(h.site, "/map.svg"), get(h.site, "/map.svg")
    assert isinstance(first, Deferred) and len(h.renderer.maps) == 1
    rooms, _ = h.renderer.maps[0]
    assert sorted(r.id for r in rooms) == ["hall", "library"]
    h.renderer.finish_map()
    response = result_of(first)
    assert result_of(second) is response and b"The Library" in response.body
    assert get(h.site, "/map.svg") is response
    h.world.changed("world", None)
    assert isinstance(get(h.site, "/map.svg"), Deferred) and len(h.renderer.maps) == 1


def test_a_world_change_while_the_map_is_drawn_draws_it_again(h):
    """A map drawn from an older world is served once, and drawn again next time."""
    d = get(h.site, "/map.svg")
    h.world.changed("world", None)
    h.renderer.finish_map()
    assert result_of(d).status == 200
    assert isinstance(get(h.site, "/map.svg"), Deferred)


def test_a_map_that_cannot_be_drawn_says_so(h):
    """A failed map is a small SVG saying so: after a timeout until the world changes,
    after other failures until the next request."""
    d = get(h.site, "/map.svg")
    h.renderer.maps.pop()[1].errback(JobTimeout())
    response = result_of(d)
    assert b"cannot be drawn" in response.body
    assert get(h.site, "/map.svg") is response  # not tried again...
    h.world.changed("world", None)
    d = get(h.site, "/map.svg")  # ...until the world changes
    h.renderer.maps.pop()[1].errback(ServerBusy())
    assert b"cannot be drawn" in result_of(d).body
    assert isinstance(get(h.site, "/map.svg"), Deferred)


# -- the process ----------------------------------------------------------------------

# A worker stand-in: answers markdown jobs like the real worker, sleeps on
# "slow", exits on "die".
STAND_IN = r"""
import json, sys, time
for line in sys.stdin:
    job = json.loads(line)
    text = job["text"]
    if text == "slow":
        time.sleep(30)
    if text == "die":
        sys.exit(3)
    print(json.dumps({"id": job["id"], "result": "<p>" + text + "</p>"}), flush=True)
"""


def stand_in(reactor: Any, **kw: Any) -> WorkerPool:
    pool = WorkerPool(reactor, size=1, argv=[sys.executable, "-c", STAND_IN], **kw)
    pool.start()
    return pool


def stop(reactor: Any, pool: WorkerPool) -> None:
    wait_for(reactor, pool.stop(), timeout=10)
    assert pool.workers == []


def test_the_real_worker_renders_markdown_and_maps(reactor):
    """The worker process renders Markdown (raw HTML escaped) and maps, in order."""
    pool = WorkerPool(reactor, size=1)
    pool.start()
    try:
        first = pool.markdown("# Title\n\n*x* <script>alert(1)</script>")
        rooms = [RoomInfo("a", "A <&>", True, {"east": "b"}), RoomInfo("b", "B", False, {})]
        drawn = pool.map_svg(rooms, "a", "World")
        second = pool.markdown("[link](javascript:alert(1))")
        table = "|a|b|\n|-|-|\n" + "|x|<y>|\n" * 2000  # about 100 KB of HTML: many reads
        big = pool.markdown(table)
        assert wait_for(reactor, first, timeout=20) == (
            "<h2>Title</h2>\n<p><em>x</em> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
        )
        assert wait_for(reactor, drawn, timeout=20) == map_svg(rooms, "a", "World")
        assert wait_for(reactor, second, timeout=20) == "<p>[link](javascript:alert(1))</p>\n"
        html = wait_for(reactor, big, timeout=20)
        assert html == str(render_markdown(table)) and len(html) > 60_000
    finally:
        stop(reactor, pool)


def test_a_slow_job_is_cut_off_and_its_worker_restarts(reactor):
    """A job over the time limit fails with JobTimeout; those queued behind it on that
    worker are told the server was busy; a new worker takes the next job."""
    pool = stand_in(reactor, render_timeout=0.5)
    try:
        slow = pool.markdown("slow")
        behind = pool.markdown("behind")
        started = time.monotonic()
        with pytest.raises(JobTimeout):
            wait_for(reactor, slow, timeout=10)
        assert time.monotonic() - started < 5
        with pytest.raises(ServerBusy):
            wait_for(reactor, behind, timeout=10)
        assert wait_for(reactor, pool.markdown("fine"), timeout=10) == "<p>fine</p>"
    finally:
        stop(reactor, pool)


def test_a_dying_worker_is_replaced(reactor):
    """If a worker exits, its jobs fail with ServerBusy and another one starts."""
    pool = stand_in(reactor)
    try:
        assert wait_for(reactor, pool.markdown("one"), timeout=10) == "<p>one</p>"
        with pytest.raises(ServerBusy):
            wait_for(reactor, pool.markdown("die"), timeout=10)
        assert wait_for(reactor, pool.markdown("two"), timeout=10) == "<p>two</p>"
    finally:
        stop(reactor, pool)


def test_the_queue_is_bounded_and_a_stopped_pool_refuses(reactor):
    """Past max_queue jobs a render fails at once; after stop() every job fails."""
    pool = stand_in(reactor, max_queue=2)
    try:
        pool.markdown("slow")
        pool.markdown("a")
        assert result_of(pool.markdown("b")).check(ServerBusy)
    finally:
        pool.workers[0].transport.signal_process("KILL")
        stop(reactor, pool)
    assert result_of(pool.markdown("late")).check(ServerBusy)
