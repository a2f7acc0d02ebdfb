from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("recover/<str:token>/", views.recover_cart, name="recover"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("confirm/<str:token>/", views.confirm_contact, name="confirm"),
]
