"""The newsroom's admin, one module per area so each stays readable."""

from stories.admin import audit, issues, reference, stories, users  # noqa: F401
