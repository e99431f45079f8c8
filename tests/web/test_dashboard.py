"""The dashboard: what a user's networks look like in the list."""

from __future__ import annotations

import trio

from tests.web.conftest import TIMEOUT, World, signed_in, text_of


async def test_descriptions_are_rendered_markdown_not_raw(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.update_network(
            world.network.id, description="A **bold** loop <script>x()</script>"
        )
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/users/{world.owner.id}"))
        listed = page[page.index('id="network-list"') : page.index("</table>")]
        assert "<strong>bold</strong>" in listed
        assert "**" not in listed
        assert "<script>" not in listed  # sanitised, as everywhere
