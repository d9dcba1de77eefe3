"""How the newsroom names people: one rule for bylines, feeds, mail, the
audit trail and the admin."""


def display_name(user) -> str:
    """A person as readers and staff see them: their full name, or their
    username when they have not given one."""
    return user.get_full_name() or user.get_username()


def person_label(user) -> str:
    """A person in the admin's pickers: the name bylines print, and the
    username that tells namesakes apart."""
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()
