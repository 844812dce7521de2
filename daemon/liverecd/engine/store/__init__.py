"""What the daemon keeps where a crash cannot take it: the store interface (`interface`), its
embedded SQLite implementation (`sqlite`; PostgreSQL is `ha.store`), and the in-memory mirror
the engine decides from (`book`)."""
