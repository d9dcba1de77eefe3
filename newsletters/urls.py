from django.urls import path

from newsletters.views import links, signup

app_name = "newsletters"

# Under /subscriptions/ rather than /newsletters/, where every other segment
# is a newsletter's slug.
urlpatterns = [
    path("signup/", signup.signup, name="signup"),
    path("confirm/<str:token>/", links.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", links.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/one-click/", links.one_click, name="one_click"),
    path("preferences/<str:token>/", links.preferences, name="preferences"),
]
