from django.urls import path

from eventbus import views

app_name = "eventbus"

urlpatterns = [
    path("", views.event_catalog_page, name="catalog"),
    path("asyncapi.json", views.asyncapi_json, name="asyncapi"),
]
