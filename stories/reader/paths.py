"""Addresses of many pages of one kind at once.

reverse() for each of a long list's links was most of the list's time (the
archive's few hundred story links, a sitemap section's 10,000 addresses).
path_for_each reverses once with placeholders and fills in each page's
arguments, quoted as reverse() quotes them, so the path is the same.
"""

from collections.abc import Callable
from urllib.parse import quote

from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

# What reverse() leaves unquoted in a path.
_SAFE = RFC3986_SUBDELIMS + "/~:@"
# A placeholder for each converter the site's URLs use: slug and str take
# letters, int takes digits.
SLUG_PLACEHOLDER = "path-placeholder"
INT_PLACEHOLDER = 987654321987654321


def path_for_each(url_name: str, *placeholders: str | int) -> Callable[..., str]:
    """A function of the page's URL arguments, in order, to its path. One
    placeholder per argument, each of a kind its converter matches and
    distinct from the others. Reversed here, once per call, so the script
    prefix in force applies."""
    # The path cut around its placeholders once, so a value is never searched
    # for a placeholder, whatever it holds.
    pieces = [reverse(url_name, args=placeholders)]
    for placeholder in placeholders:
        before, found, after = pieces[-1].partition(str(placeholder))
        if not found:
            raise ValueError(f"{placeholder!r} is not in the path of {url_name!r} in order")
        pieces[-1:] = [before, after]

    def path(*values) -> str:
        filled = [pieces[0]]
        for value, piece in zip(values, pieces[1:], strict=True):
            filled += [quote(str(value), safe=_SAFE), piece]
        return "".join(filled)

    return path
