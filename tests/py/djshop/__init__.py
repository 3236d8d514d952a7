"""A minimal Django app for the database tests: authors, books, and two views over them."""
