from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = f"{settings.SITE_NAME} admin"
admin.site.site_title = settings.SITE_NAME
admin.site.index_title = "Newsroom"

# /healthz and /readyz are not routes: stories.health.HealthCheckMiddleware
# answers them ahead of host checks, HTTPS redirects and sessions.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("stories.discovery_urls")),
    path("", include("stories.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
