"""Hook rules for the rooms test application (live server and browser tests)."""

from thywill import fail, shared

said = 0  # module state: messages said in rooms, in this process


def pre_room_say(model):
    if model.application == "rooms" and "forbidden" in str(model.data.get("text", "")):
        fail("That word is not allowed here.")


def post_room_say(model, succeeded):
    global said
    if succeeded:
        said += 1


def pre_room_count(model):
    """Counts the messages of a key in the state every process shares."""
    if model.application == "rooms":
        key = model.data["key"]
        model.data = {**model.data, "count": shared.incr(f"count:{key}")}


async def pre_room_acount(model):
    """The same from an async function, and the first sender of a key claims it."""
    if model.application == "rooms":
        key = model.data["key"]
        claimed = await shared.aadd(f"first:{key}", model.client_id)
        count = await shared.aincr(f"count:{key}")
        model.data = {**model.data, "count": count, "claimed": claimed}
