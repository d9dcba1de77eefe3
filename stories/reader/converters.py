from django.urls import register_converter


class TopicSlugConverter:
    """A topic's address: taggit keeps letters of any script in slugs, so
    this takes any text but a slash or a control character (PostgreSQL
    cannot even compare a NUL)."""

    regex = r"[^/\x00-\x1f\x7f]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TopicSlugConverter, "topicslug")
