from django.urls import path

from core import views

urlpatterns = [
    path("<slug:slug>/", views.problem_type_page, name="problem-type"),
]
