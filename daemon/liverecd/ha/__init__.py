"""High availability (DESIGN §9): shared state in PostgreSQL and one active member."""
