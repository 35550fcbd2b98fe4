"""Hook rules for the rooms test application (live server and browser tests)."""

from thywill import fail

said = 0  # module state: messages said in rooms, in this process


def pre_room_say(model):
    if model.application == "rooms" and "forbidden" in str(model.data.get("text", "")):
        fail("That word is not allowed here.")


def post_room_say(model, succeeded):
    global said
    if succeeded:
        said += 1
