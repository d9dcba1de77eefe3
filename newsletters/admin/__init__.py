"""The audience admin: newsletters with their lists, subscribers,
suppressions and imports. Subscriber data is seen only by those with the
app's permissions (the Audience group, newsletters/migrations/0002)."""

from newsletters.admin import imports, newsletters, subscribers  # noqa: F401
