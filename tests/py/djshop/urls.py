from django.urls import path

from . import views

urlpatterns = [
    path("books/", views.book_list),
    path("books-related/", views.book_list_related),
]
