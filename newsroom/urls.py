import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = f"{settings.SITE_NAME} admin"
admin.site.site_title = settings.SITE_NAME
admin.site.index_title = "Newsroom"

# /healthz and /readyz are not routes: newsroom.health.HealthCheckMiddleware
# answers them ahead of host checks, HTTPS redirects and sessions.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("subscriptions/", include("newsletters.urls")),
    # Mail providers' bounce and complaint reports (django-anymail's tracking webhooks).
    path("anymail/", include("newsletters.delivery.webhooks")),
    path("", include("stories.discovery.urls")),
    path("", include("stories.reader.urls")),
]

if settings.NEWSROOM_SERVE_MEDIA and settings.MEDIA_URL.startswith("/"):
    # Uploads from the app itself: for development and `make run`. Production
    # serves them from a media bucket or the web server in front.
    from django.urls import re_path

    from stories.images import serve_media

    urlpatterns += [
        re_path(rf"^{re.escape(settings.MEDIA_URL.strip('/'))}/(?P<path>.*)$", serve_media)
    ]
