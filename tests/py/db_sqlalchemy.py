"""SQLAlchemy ORM workload for the database tests. Usage: db_sqlalchemy.py URL MODE BATCHES
MODE lazy: query all books, then read book.author.name for each (a lazy load per book, from the
line marked LAZY-LINE); selectin: the same with .options(selectinload(Book.author)). Prints
'ready', waits for a line on stdin, runs BATCHES batches 0.8 s apart, prints 'done', waits."""
import sys, time

from sqlalchemy import Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, relationship, selectinload, sessionmaker

Base = declarative_base()


class Author(Base):
    __tablename__ = "sa_author"
    id = Column(Integer, primary_key=True)
    name = Column(String(100))


class Book(Base):
    __tablename__ = "sa_book"
    id = Column(Integer, primary_key=True)
    title = Column(String(200))
    author_id = Column(Integer, ForeignKey("sa_author.id"))
    author = relationship(Author, lazy="select")


def report(session, mode):
    q = session.query(Book)
    if mode == "selectin":
        q = q.options(selectinload(Book.author))
    names = []
    for book in q.all():
        names.append(book.author.name)  # LAZY-LINE
    return names


def main():
    url, mode, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = create_engine(url)
    print("ready", flush=True)
    sys.stdin.readline()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    Session = sessionmaker(bind=engine)
    with Session() as s:
        authors = [Author(name=f"author {i}") for i in range(50)]
        s.add_all(authors)
        s.add_all([Book(title=f"book {i}", author=a) for i, a in enumerate(authors)])
        s.commit()
    for b in range(batches):
        if b:
            time.sleep(0.8)
        with Session() as s:  # a fresh session: nothing cached from the last batch
            report(s, mode)
    print("done", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
