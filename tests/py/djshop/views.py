from django.http import HttpResponse

from .models import Book


def book_list(request):
    names = []
    for book in Book.objects.all():
        names.append(book.author.name)  # N+1-LINE
    return HttpResponse(",".join(names))


def book_list_related(request):
    names = []
    for book in Book.objects.select_related("author"):
        names.append(book.author.name)
    return HttpResponse(",".join(names))
