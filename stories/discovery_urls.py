"""Search, feeds, sitemap and robots.txt."""

urlpatterns = []
