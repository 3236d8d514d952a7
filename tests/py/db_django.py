"""Django workload for the database tests. Usage: db_django.py HOST PORT VIEW REQUESTS
Configures Django in code (app tests/py/djshop on PostgreSQL at HOST:PORT, database postgres),
prints 'ready', waits for a line on stdin, creates and fills the tables (50 books by 50
authors), then GETs /VIEW/ REQUESTS times (0.8 s apart) through django.test.Client, prints
'done N' with the number of ORM queries Django ran, and waits for a line before exiting."""
import os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django
from django.conf import settings

host, port, view, requests = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="pyrometer-test",
    ROOT_URLCONF="djshop.urls",
    INSTALLED_APPS=["djshop"],
    MIDDLEWARE=[],
    DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "HOST": host, "PORT": port,
                           "NAME": "postgres", "USER": "postgres"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=False,
)
django.setup()

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from djshop.models import Author, Book

print("ready", flush=True)
sys.stdin.readline()
with connection.schema_editor() as ed:
    for m in (Book, Author):
        ed.execute(f'DROP TABLE IF EXISTS "{m._meta.db_table}" CASCADE')
    ed.create_model(Author)
    ed.create_model(Book)
authors = Author.objects.bulk_create([Author(name=f"author {i}") for i in range(50)])
Book.objects.bulk_create([Book(title=f"book {i}", author=a) for i, a in enumerate(authors)])

client = Client()
ran = 0
for r in range(requests):
    if r:
        time.sleep(0.8)
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(f"/{view}/")
        assert resp.status_code == 200, resp.status_code
    ran += len(ctx.captured_queries)
print(f"done {ran}", flush=True)
sys.stdin.readline()
