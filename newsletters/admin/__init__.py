"""The audience admin: newsletters with their lists, subscribers,
suppressions and imports, and the mail side of the issue admin. Subscriber
data is seen only by those with the app's permissions (the Audience group,
newsletters/migrations/0002)."""

from newsletters.admin import imports, issue_mail, newsletters, subscribers  # noqa: F401
