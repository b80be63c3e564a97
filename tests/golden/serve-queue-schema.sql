PRAGMA user_version = 1;
CREATE TABLE deliveries (
    delivery TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received TEXT NOT NULL,
    job INTEGER REFERENCES jobs (id)
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    repository TEXT,
    pr INTEGER,
    owes_report INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX jobs_by_pr ON jobs (repository, pr, id);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE TABLE sqlite_sequence(name,seq);
